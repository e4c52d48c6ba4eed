// `rotor serve` as a real process (the built CLI): it listens on 127.0.0.1 by default,
// answers over TCP, logs requests with their ids but never a value or a token, and stops cleanly
// on SIGTERM. And `rotor token create | list | revoke` in-process, with the token printed once.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServerFixture, type ServerFixture } from './server-fixture.js';
import { BUILT, ROOT } from './helpers/serve-process.js';

let f: ServerFixture;
beforeAll(async () => {
  f = await createServerFixture();
});
afterAll(async () => {
  await f?.close();
});

describe('rotor token', () => {
  test('create prints the token once on stdout; list never shows it; revoke takes a reason', async () => {
    const created = await f.project.cli([
      'token',
      'create',
      '--name',
      'billing-api',
      '--role',
      'app',
      '--secret',
      'JWT_*',
      '--secret',
      'SESSION_SECRET',
      '--env',
      'production',
      '--expires',
      '90d',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^rtr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/shown this once/);
    const id = token.slice(4, 20);
    const read = await f.call(token, {
      method: 'GET',
      url: '/v1/secrets/SESSION_SECRET/value?env=production',
    });
    expect(read.statusCode).toBe(200);

    const list = await f.project.cli(['token', 'list']);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain('JWT_*,SESSION_SECRET in production');
    expect(list.stdout).not.toContain(token.slice(21));
    const json = await f.project.cli(['token', 'list', '--json']);
    expect(JSON.parse(json.stdout).tokens.find((t: { id: string }) => t.id === id)).toMatchObject({
      name: 'billing-api',
      role: 'app',
      state: 'active',
    });

    const noReason = await f.project.cli(['token', 'revoke', id]);
    expect(noReason.code).not.toBe(0);
    const revoked = await f.project.cli(['token', 'revoke', id, '--reason', 'app retired']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await f.call(token, { method: 'GET', url: '/v1/whoami' })).json().error.code).toBe(
      'ERR_ROTOR_API_TOKEN_REVOKED',
    );
  });

  test('bad grants are refused with a clear message and nothing stored', async () => {
    const before = await f.snapshot();
    const r1 = await f.project.cli([
      'token',
      'create',
      '--name',
      'x',
      '--role',
      'app',
      '--env',
      'production',
    ]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/ERR_ROTOR_API_TOKEN_SPEC_INVALID|--secret pattern/);
    const r2 = await f.project.cli(['token', 'create', '--name', 'x', '--role', 'root']);
    expect(r2.stderr).toMatch(/unknown role "root"/);
    const r3 = await f.project.cli([
      'token',
      'create',
      '--name',
      'x',
      '--role',
      'auditor',
      '--expires',
      'forever',
    ]);
    expect(r3.code).toBe(1);
    expect(await f.snapshot()).toEqual(before);
  });
});

describe('rotor serve', () => {
  test('listens on 127.0.0.1, serves the API, logs without values, and stops on SIGTERM', async () => {
    // The real process runs on the system clock: a token without expiry.
    const made = await f.project.cli([
      'token',
      'create',
      '--name',
      'serve-app',
      '--role',
      'app',
      '--secret',
      'JWT_*',
      '--env',
      'production',
    ]);
    const appToken = made.stdout.trim();
    const child = spawn(
      process.execPath,
      [
        BUILT,
        '-c',
        join(f.project.dir, 'rotor.yaml'),
        '--state-dir',
        join(f.project.dir, '.rotor'),
        'serve',
        '--port',
        '0',
        '--scheduler-interval',
        '1s',
      ],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: f.project.dir, ROTOR_OPERATOR: 'tester' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!/listening on/.test(stdout) && Date.now() < deadline && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 50));
      const m = /listening on (http:\/\/([\d.]+):(\d+))/.exec(stdout);
      expect(m, `stdout: ${stdout}\nstderr: ${stderr}`).not.toBeNull();
      const [, base, host] = m!;
      expect(host).toBe('127.0.0.1');
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const read = await fetch(`${base}/v1/secrets/JWT_ACCESS_SECRET/value?env=production`, {
        headers: { authorization: `Bearer ${appToken}` },
      });
      expect(read.status).toBe(200);
      const requestId = read.headers.get('x-request-id')!;
      const { value } = (await read.json()) as { value: string };
      const denied = await fetch(`${base}/v1/tokens`, {
        headers: { authorization: `Bearer ${appToken}` },
      });
      expect(denied.status).toBe(403);
      // /metrics is wired and stays closed: this policy has no METRICS_AUTH_TOKEN.
      expect(
        (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer x' } })).status,
      ).toBe(503);
      expect((await fetch(`${base}/dashboard/login`)).status).toBe(200);
      // The scheduler runs inside serve: the fixture's secrets were rotated on 2026-01-01 (its
      // manual clock), so on the real clock the generated ones are overdue and get rotated.
      expect(stdout).toMatch(/scheduler running every 1 s/);
      const store = await f.rotor.store();
      let scheduled = 0;
      while (scheduled === 0 && Date.now() < deadline + 10_000) {
        const rows = await store.db.selectFrom('audit_events').select('entry').execute();
        scheduled = rows
          .map((r) => JSON.parse(r.entry) as { action: string; method: string })
          .filter((e) => e.action === 'rotate.success' && e.method === 'scheduled').length;
        if (scheduled === 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(scheduled).toBeGreaterThan(0);
      // The first success comes while that tick still rotates the other secrets: wait for the tick
      // to end (no rotation running), or the CLI's rotation below meets its lock (409).
      while (Date.now() < deadline + 30_000) {
        const running = await store.db
          .selectFrom('rotations')
          .select('id')
          .where('state', '=', 'running')
          .execute();
        const scheduledHere = await store.db
          .selectFrom('rotations')
          .select('id')
          .where('method', '=', 'scheduled')
          .where('secret', '=', 'JWT_ACCESS_SECRET')
          .where('environment', '=', 'production')
          .where('state', '=', 'succeeded')
          .execute();
        if (running.length === 0 && scheduledHere.length > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      // Rotated by another process (the CLI): the next read gets the new version.
      const versionBefore = (
        (await (
          await fetch(`${base}/v1/secrets/JWT_ACCESS_SECRET/value?env=production`, {
            headers: { authorization: `Bearer ${appToken}` },
          })
        ).json()) as { versionId: string }
      ).versionId;
      const rotated = await f.project.cli([
        'rotate',
        'JWT_ACCESS_SECRET',
        '--env',
        'production',
        '--json',
      ]);
      expect(rotated.code, rotated.stderr).toBe(0);
      const newVersion = (JSON.parse(rotated.stdout) as { results: { versionId: string }[] })
        .results[0]!.versionId;
      expect(newVersion).not.toBe(versionBefore);
      const fresh = (await (
        await fetch(`${base}/v1/secrets/JWT_ACCESS_SECRET/value?env=production`, {
          headers: { authorization: `Bearer ${appToken}` },
        })
      ).json()) as { versionId: string };
      expect(fresh.versionId).toBe(newVersion);
      // Revoked from another process (the CLI): the running server refuses the token at once.
      const revoked = await f.project.cli([
        'token',
        'revoke',
        appToken.slice(4, 20),
        '--reason',
        'serve test',
      ]);
      expect(revoked.code, revoked.stderr).toBe(0);
      const after = await fetch(`${base}/v1/secrets/JWT_ACCESS_SECRET/value?env=production`, {
        headers: { authorization: `Bearer ${appToken}` },
      });
      expect(after.status).toBe(401);
      expect(((await after.json()) as { error: { code: string } }).error.code).toBe(
        'ERR_ROTOR_API_TOKEN_REVOKED',
      );
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
      expect(stdout).toMatch(/rotor serve: stopped/);
      expect(stderr).toContain(requestId);
      expect(stderr).not.toContain(value);
      for (const v of await f.values()) expect(stderr + stdout).not.toContain(v);
      for (const t of [appToken, ...Object.values(f.tokens)])
        expect(stderr + stdout).not.toContain(t.slice(21));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);

  test('an invalid --port is refused before anything listens', async () => {
    const r = await f.project.cli(['serve', '--port', '70000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid --port "70000"/);
    const env = await f.project.cli(['serve', '--port', '0', '--metrics-env', 'qa']);
    expect(env.code).toBe(1);
    expect(env.stderr).toMatch(/invalid --metrics-env "qa"/);
    const interval = await f.project.cli(['serve', '--port', '0', '--scheduler-interval', 'soon']);
    expect(interval.stderr).toMatch(/invalid --scheduler-interval "soon"/);
  });
});
