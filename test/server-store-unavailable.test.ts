// A store that cannot be written: reads of values (each must be audited first), rotations and
// token changes answer 503 ERR_ROTOR_STORE_UNAVAILABLE, /readyz says not ready, /healthz stays up,
// and all of it recovers once the store takes writes again. The store is made unwritable for
// real: `chattr +i` on the SQLite file and its WAL (root ignores file modes, not the immutable
// flag), first while `rotor serve` runs (writes fail with an I/O error), then before it starts
// (SQLite opens the file read-only).
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createProject, type TestProject } from './helpers/project.js';
import { startServe, type ServeProcess, adminAndAppTokens } from './helpers/serve-process.js';

const POLICY = `version: 1
environments: [production]
secrets:
  SESSION_SECRET:
    kind: random
    cadence: 30d
    config: { bytes: 32, encoding: base64url }
`;

let project: TestProject;
let server: ServeProcess | undefined;
let admin: string;
let app: string;
let value: string;

const files = () =>
  ['rotor.db', 'rotor.db-wal']
    .map((f) => join(project.dir, '.rotor', f))
    .filter((f) => existsSync(f));
const chattr = (flag: '+i' | '-i') => execFileSync('chattr', [flag, ...files()], { stdio: 'pipe' });

/** Whether this machine lets the test set the immutable flag (root with CAP_LINUX_IMMUTABLE on ext4/xfs/btrfs). */
function immutableWorks(): boolean {
  try {
    chattr('+i');
    chattr('-i');
    return true;
  } catch (error) {
    console.warn(
      `SKIPPED: chattr +i is not available here (${(error as Error).message.split('\n')[0]}); the read-only store tests need it`,
    );
    return false;
  }
}

async function get(token: string | undefined, url: string, init: RequestInit = {}) {
  const res = await fetch(`${server!.base}${url}`, {
    ...init,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    body: JSON.parse(text) as {
      error?: { code: string; message: string };
      value?: string;
      status?: string;
    },
  };
}

let supported = false;
beforeAll(async () => {
  project = await createProject({ policy: POLICY });
  expect((await project.cli(['apply'])).code).toBe(0);
  expect((await project.cli(['rotate', 'SESSION_SECRET'])).code).toBe(0);
  ({ admin, app } = await adminAndAppTokens(project));
  supported = immutableWorks();
}, 120_000);

afterAll(async () => {
  if (project && supported) chattr('-i');
  await server?.stop();
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

describe('a store that cannot be written', () => {
  test('while serve runs: 503 for reads, rotations and token changes, /readyz not ready; it recovers', async ({
    skip,
  }) => {
    if (!supported) skip();
    server = await startServe(project.dir, ['--no-scheduler']);
    const before = await get(app, '/v1/secrets/SESSION_SECRET/value?env=production');
    expect(before.status).toBe(200);
    value = before.body.value!;
    expect((await get(undefined, '/readyz')).status).toBe(200);

    chattr('+i');
    try {
      const read = await get(app, '/v1/secrets/SESSION_SECRET/value?env=production');
      expect(read.status, read.text).toBe(503);
      expect(read.body.error!.code).toBe('ERR_ROTOR_STORE_UNAVAILABLE');
      expect(read.text).not.toContain(value);
      const ready = await get(undefined, '/readyz');
      expect(ready.status, ready.text).toBe(503);
      expect(ready.body.error!.message).toMatch(/ERR_ROTOR_STORE_UNAVAILABLE/);
      const rotate = await get(admin, '/v1/secrets/SESSION_SECRET/rotate', {
        method: 'POST',
        body: JSON.stringify({ reason: 'store is read-only' }),
      });
      expect(rotate.status, rotate.text).toBe(503);
      const token = await get(admin, '/v1/tokens', {
        method: 'POST',
        body: JSON.stringify({ name: 'late', role: 'auditor' }),
      });
      expect(token.status, token.text).toBe(503);
      expect((await get(undefined, '/healthz')).status).toBe(200);
      // Reading without writing still works: the audit log and the inventory.
      expect((await get(admin, '/v1/secrets')).status).toBe(200);
    } finally {
      chattr('-i');
    }
    expect((await get(undefined, '/readyz')).status).toBe(200);
    const after = await get(app, '/v1/secrets/SESSION_SECRET/value?env=production');
    expect(after.status, after.text).toBe(200);
    expect(await server.stop()).toBe(0);
    server = undefined;
  }, 120_000);

  test('a store that is read-only before serve starts: 503 and not ready, never a value', async ({
    skip,
  }) => {
    if (!supported) skip();
    chattr('+i');
    try {
      server = await startServe(project.dir, ['--no-scheduler']);
      const ready = await get(undefined, '/readyz');
      expect(ready.status, ready.text).toBe(503);
      const read = await get(app, '/v1/secrets/SESSION_SECRET/value?env=production');
      expect(read.status, read.text).toBe(503);
      expect(read.body.error!.code).toBe('ERR_ROTOR_STORE_UNAVAILABLE');
      expect(read.text).not.toContain(value);
      expect(server.stderr()).not.toContain(value);
    } finally {
      await server?.stop();
      server = undefined;
      chattr('-i');
    }
  }, 120_000);
});
