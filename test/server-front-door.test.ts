// GET / on the server sends a browser to the dashboard (issue 11 §5).
import { describe, expect, it } from 'vitest';
import { createServerFixture } from './server-fixture.js';

describe('the server front door', () => {
  it('GET / redirects to the dashboard, which answers', async () => {
    const f = await createServerFixture();
    try {
      const root = await f.app.inject({ method: 'GET', url: '/' });
      expect(root.statusCode).toBe(302);
      expect(root.headers.location).toBe('/dashboard/');
      const landing = await f.app.inject({ method: 'GET', url: root.headers.location as string });
      expect([200, 302, 303]).toContain(landing.statusCode); // the dashboard, or its login page
      expect((await f.app.inject({ method: 'POST', url: '/' })).statusCode).toBe(404);
    } finally {
      await f.close();
    }
  });
});
