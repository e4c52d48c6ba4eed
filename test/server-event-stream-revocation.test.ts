// An event stream lives only as long as its API token, attacked from outside: the server listens
// on loopback, streams are read over HTTP, and the token is revoked by the CLI in another process
// (the server notices other processes' commits through PRAGMA data_version). The stream ends and
// no rotation event reaches it afterwards, while another token's stream gets the event. Expiry
// ends a stream with no store change at all; a token's consumers stop counting as live; and one
// token may hold at most 10 streams (429 beyond).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { systemClock } from '../src/core/clock.js';
import { tokenStillValid } from '../src/core/consumers/consumer-record.js';
import { consumersBehind, listConsumers } from '../src/core/consumers/list-consumers.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { buildApp } from '../src/server/app.js';
import { streamsPerToken } from '../src/server/events/events-plugin.js';
import { ADMIN_ACTOR, createServerFixture, type ServerFixture } from './server-fixture.js';
import type { FastifyInstance } from 'fastify';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/cli/main.js');
const DAY = 86_400_000;

interface Stream {
  text(): string;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Resolves once the text matches. */
  until(pattern: RegExp): Promise<void>;
  abort(): void;
}

async function openStream(
  base: string,
  token: string,
): Promise<{ status: number; body: string; stream?: Stream }> {
  const controller = new AbortController();
  const res = await fetch(`${base}/v1/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  if (res.status !== 200) return { status: res.status, body: await res.text() };
  let text = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
        for (const w of [...waiters]) if (w.pattern.test(text)) w.resolve();
      }
    } catch {
      // aborted by the test
    }
  })();
  return {
    status: 200,
    body: '',
    stream: {
      text: () => text,
      ended,
      until: (pattern) =>
        pattern.test(text)
          ? Promise.resolve()
          : new Promise((resolve) => waiters.push({ pattern, resolve })),
      abort: () => controller.abort(),
    },
  };
}

/** Waits for a promise, failing with `what` instead of hanging if it never settles. */
function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`gave up waiting: ${what}`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

function cli(dir: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', ROTOR_OPERATOR: 'security-test' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let f: ServerFixture;
let base: string;
const makeToken = async (
  name: string,
  options: { expiresInMs?: number; clock?: typeof systemClock } = {},
) => {
  const store = await f.rotor.store();
  return createApiToken(store, options.clock ?? f.project.clock, ADMIN_ACTOR, {
    name,
    role: 'app',
    secrets: ['SESSION_SECRET'],
    environments: ['production'],
    expiresInMs: options.expiresInMs ?? 30 * DAY,
  });
};

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  f = await createServerFixture();
  await f.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(async () => {
  await f?.close();
});

describe('a revoked token loses its event streams', () => {
  test('revoked by the CLI in another process: the stream ends, no rotation event after, other tokens unaffected', async () => {
    const revoked = await makeToken('stream-revoked');
    const kept = await makeToken('stream-kept');
    const a = (await openStream(base, revoked.token)).stream!;
    const b = (await openStream(base, kept.token)).stream!;
    await within(
      Promise.all([a.until(/event: snapshot/), b.until(/event: snapshot/)]),
      'snapshots',
    );

    const revoke = await cli(f.project.dir, [
      'token',
      'revoke',
      revoked.info.id,
      '--reason',
      'leaked in a log',
    ]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const rotate = await cli(f.project.dir, [
      'rotate',
      'SESSION_SECRET',
      '--env',
      'production',
      '--reason',
      'after revoke',
    ]);
    expect(rotate.code, rotate.stderr).toBe(0);

    await within(a.ended, 'the revoked token’s stream to end');
    await within(
      b.until(/event: rotation\n[^\n]*"secret":"SESSION_SECRET"/),
      'the kept token’s rotation event',
    );
    expect(a.text()).not.toContain('event: rotation');
    b.abort();
    // Reconnecting with it is refused.
    const again = await openStream(base, revoked.token);
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body).error.code).toBe('ERR_ROTOR_API_TOKEN_REVOKED');
  }, 120_000);

  test('a token that expires ends its stream at once, with no store change', async () => {
    // A server on the real clock, so that the expiry really passes while the stream is open.
    const app: FastifyInstance = await buildApp({
      rotor: f.rotor,
      clock: systemClock,
      requestLogging: false,
    });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const short = await makeToken('stream-expiring', { expiresInMs: 1_500, clock: systemClock });
      const opened = await openStream(url, short.token);
      expect(opened.status).toBe(200);
      await within(opened.stream!.ended, 'the expiring token’s stream to end');
      expect(opened.stream!.text()).not.toContain('event: rotation');
    } finally {
      await app.close();
    }
  }, 60_000);

  test('a token expired by the server clock gets no rotation event: the stream ends first', async () => {
    const soon = await makeToken('stream-soon', { expiresInMs: 60_000 });
    const s = (await openStream(base, soon.token)).stream!;
    await within(s.until(/event: snapshot/), 'snapshot');
    f.project.clock.advance(120_000);
    const rotate = await cli(f.project.dir, [
      'rotate',
      'SESSION_SECRET',
      '--env',
      'production',
      '--reason',
      'after expiry',
    ]);
    expect(rotate.code, rotate.stderr).toBe(0);
    await within(s.ended, 'the expired token’s stream to end');
    expect(s.text()).not.toContain('event: rotation');
  }, 60_000);
});

describe('consumers of a revoked or expired token are not live', () => {
  test('its heartbeats stop counting: not live, not behind, its consumer id free for another token', async () => {
    const first = await makeToken('consumer-revoked');
    const other = await makeToken('consumer-other');
    const store = await f.rotor.store();
    const current = await store.db
      .selectFrom('versions')
      .select('id')
      .where('secret', '=', 'SESSION_SECRET')
      .where('environment', '=', 'production')
      .where('stage', '=', 'current')
      .executeTakeFirstOrThrow();
    const beat = (token: string, version: string) =>
      fetch(`${base}/v1/consumers/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          consumerId: 'web-revoked-1',
          app: 'billing',
          holds: [{ secret: 'SESSION_SECRET', environment: 'production', version }],
        }),
      });
    expect((await beat(first.token, current.id)).status).toBe(200);
    // The batcher writes shortly after; wait until the row is there.
    await within(
      (async () => {
        while (
          !(await listConsumers(store.db, {}, f.project.clock.now())).some(
            (c) => c.id === 'web-revoked-1',
          )
        )
          await new Promise((r) => setTimeout(r, 50));
      })(),
      'the heartbeat to be stored',
    );
    // A rotation leaves it behind: it would hold up the retirement of the version it holds.
    expect(
      (
        await cli(f.project.dir, [
          'rotate',
          'SESSION_SECRET',
          '--env',
          'production',
          '--reason',
          'consumer behind',
        ])
      ).code,
    ).toBe(0);
    const now = f.project.clock.now();
    const fresh = await store.db
      .selectFrom('versions')
      .select('id')
      .where('secret', '=', 'SESSION_SECRET')
      .where('environment', '=', 'production')
      .where('stage', '=', 'current')
      .executeTakeFirstOrThrow();
    const atFresh = {
      secret: 'SESSION_SECRET',
      environment: 'production',
      currentVersionId: fresh.id,
    };
    const before = (await listConsumers(store.db, {}, now)).find((c) => c.id === 'web-revoked-1')!;
    expect(before.live).toBe(true);
    expect(before.holds[0]!.behind).toBe(true);
    expect((await consumersBehind(store.db, atFresh, now)).map((c) => c.id)).toContain(
      'web-revoked-1',
    );
    // Another token may not report under a live consumer id of this one.
    expect((await beat(other.token, current.id)).status).toBe(403);

    expect(
      (await cli(f.project.dir, ['token', 'revoke', first.info.id, '--reason', 'app retired']))
        .code,
    ).toBe(0);
    const after = (await listConsumers(store.db, {}, f.project.clock.now())).find(
      (c) => c.id === 'web-revoked-1',
    )!;
    expect(after.live).toBe(false);
    expect(
      (await consumersBehind(store.db, atFresh, f.project.clock.now())).map((c) => c.id),
    ).not.toContain('web-revoked-1');
    const listed = await fetch(`${base}/v1/consumers?live=true`, {
      headers: { authorization: `Bearer ${f.tokens.admin}` },
    });
    expect(
      ((await listed.json()) as { consumers: { id: string }[] }).consumers.some(
        (c) => c.id === 'web-revoked-1',
      ),
    ).toBe(false);
    // The id is free again for a live token.
    expect((await beat(other.token, fresh.id)).status).toBe(200);
  }, 60_000);
});

describe('tokenStillValid', () => {
  test('a consumer counts only under a token that exists, is not revoked and has not expired', () => {
    const row = {
      token_id: 't1',
      token_row: 't1',
      token_revoked_at: null,
      token_expires_at: 2_000,
    };
    expect(tokenStillValid(row, 1_000)).toBe(true);
    expect(tokenStillValid(row, 2_000)).toBe(false);
    expect(tokenStillValid({ ...row, token_expires_at: null }, 9e15)).toBe(true);
    expect(tokenStillValid({ ...row, token_revoked_at: 500 }, 1_000)).toBe(false);
    expect(tokenStillValid({ ...row, token_row: null }, 1_000)).toBe(false);
    // Recorded without a token (core, tests): judged by its heartbeats alone.
    expect(
      tokenStillValid(
        { token_id: null, token_row: null, token_revoked_at: null, token_expires_at: null },
        1_000,
      ),
    ).toBe(true);
  });
});

describe('streams per token are capped', () => {
  test('the 11th stream of one token is refused with 429 ERR_ROTOR_API_STREAM_LIMIT; closing one makes room', async () => {
    const capped = await makeToken('stream-capped');
    const open: Stream[] = [];
    for (let i = 0; i < 10; i++) {
      const s = await openStream(base, capped.token);
      expect(s.status).toBe(200);
      open.push(s.stream!);
    }
    const refused = await openStream(base, capped.token);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body).error.code).toBe('ERR_ROTOR_API_STREAM_LIMIT');
    // Another token is not affected.
    const other = await openStream(base, (await makeToken('stream-other')).token);
    expect(other.status).toBe(200);
    other.stream!.abort();
    open.pop()!.abort();
    // The server sees the closed connection shortly; until then it may still refuse.
    const reopened = await within(
      (async () => {
        for (;;) {
          const s = await openStream(base, capped.token);
          if (s.status === 200) return s.stream!;
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      'a stream slot to free up',
    );
    reopened.abort();
    for (const s of open) s.abort();
  }, 60_000);

  test('the cap comes from the option, else ROTOR_STREAMS_PER_TOKEN, else 10; bad values are refused', () => {
    expect(streamsPerToken(undefined, {})).toBe(10);
    expect(streamsPerToken(undefined, { ROTOR_STREAMS_PER_TOKEN: '3' })).toBe(3);
    expect(streamsPerToken(2, { ROTOR_STREAMS_PER_TOKEN: '3' })).toBe(2);
    for (const bad of ['0', '-1', '2.5', 'ten'])
      expect(() => streamsPerToken(undefined, { ROTOR_STREAMS_PER_TOKEN: bad })).toThrow(
        /ROTOR_STREAMS_PER_TOKEN/,
      );
  });
});
