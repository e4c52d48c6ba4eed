// Live delivery to apps, end to end: a real `rotor serve` app listening on 127.0.0.1:0 with the
// events plugin, real rotor/client instances over fetch, rotations by the engine and by the CLI
// in another process, retire waiting on consumers, grants on the stream, reconnects, and
// fromServer in a rotor/jwt keyring.
import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotor, type Rotor } from '../src/core/context.js';
import { createRotationEngine, type RotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { openVersion } from '../src/core/vault/versions.js';
import { ROTATORS } from '../src/rotators/registry.js';
import {
  createClient,
  fromServer,
  type ChangeEvent,
  type RotorClient,
} from '../src/sdk/client/index.js';
import { createJwtKeys } from '../src/sdk/jwt/index.js';
import { buildApp } from '../src/server/app.js';
import { createEventsPlugin } from '../src/server/events/index.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { BUILT } from './helpers/serve-process.js';

const POLICY = `version: 1
environments: [staging, production]
secrets:
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
    grace: 1h
    config: { algorithm: HS256 }
  SESSION_SECRET:
    kind: random
    cadence: 30d
    config: { bytes: 32, encoding: base64url }
`;

const actor: Actor = {
  operator: 'tester',
  requestId: '00000000-0000-4000-8000-000000000055',
  method: 'manual',
};
const J = 'JWT_ACCESS_SECRET';
const P = 'production';

interface Live {
  project: TestProject;
  rotor: Rotor;
  engine: RotationEngine;
  app: FastifyInstance;
  url: string;
  port: number;
  logs: () => string;
  tokens: { jwtApp: string; sessionApp: string; operator: string };
  clients: RotorClient[];
  client(options?: Partial<Parameters<typeof createClient>[0]>): RotorClient;
  restart(): Promise<void>;
  close(): Promise<void>;
}

const opened: Live[] = [];
afterEach(async () => {
  for (const live of opened.splice(0)) await live.close();
});

async function start(rotor: Rotor, port = 0): Promise<FastifyInstance> {
  const app = await buildApp({
    rotor,
    rateLimit: false,
    plugins: [createEventsPlugin({ pollMs: 50, heartbeatMs: 1_000 })],
  });
  await app.listen({ host: '127.0.0.1', port });
  return app;
}

async function live(): Promise<Live> {
  const project = await createProject({ policy: POLICY });
  await project.cli(['apply']);
  let logText = '';
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logText += chunk.toString();
        cb();
      },
    }),
  );
  const rotor = createRotor({
    cwd: project.dir,
    env: project.env,
    rotators: ROTATORS,
    clock: project.clock,
    logger,
  });
  const engine = createRotationEngine({ rotor });
  for (const secret of [J, 'SESSION_SECRET'])
    expect((await engine.rotate(actor, { secret, method: 'manual' })).ok).toBe(true);
  const store = await rotor.store();
  const token = async (name: string, role: string, secrets?: string[], environments?: string[]) =>
    (
      await createApiToken(store, project.clock, actor, {
        name,
        role,
        ...(secrets ? { secrets, environments } : {}),
      })
    ).token;
  const tokens = {
    jwtApp: await token('api', 'app', ['JWT_*'], [P]),
    sessionApp: await token('web', 'app', ['SESSION_*'], ['*']),
    operator: await token('ops', 'operator'),
  };
  let app = await start(rotor);
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const clients: RotorClient[] = [];
  const l: Live = {
    project,
    rotor,
    engine,
    get app() {
      return app;
    },
    url,
    port,
    logs: () => logText,
    tokens,
    clients,
    client(options = {}) {
      const c = createClient({
        url,
        token: tokens.jwtApp,
        app: 'api',
        heartbeatMs: 1_000,
        reconnect: { minMs: 50, maxMs: 300 },
        onError: () => {},
        ...options,
      });
      clients.push(c);
      return c;
    },
    async restart() {
      await app.close();
      app = await start(rotor, port);
    },
    async close() {
      for (const c of clients) await c.close();
      await app.close();
      await rotor.close();
    },
  };
  opened.push(l);
  return l;
}

function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const v = await check();
        if (v) return resolve(v);
      } catch {
        // not yet
      }
      if (Date.now() - started > timeoutMs)
        return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void tick(), 10);
    };
    void tick();
  });
}

function nextChange(
  client: RotorClient,
  match: (e: ChangeEvent) => boolean,
): Promise<{ event: ChangeEvent; at: number }> {
  return new Promise((resolve) => {
    const off = client.onChange((event) => {
      if (!match(event)) return;
      off();
      resolve({ event, at: Date.now() });
    });
  });
}

/** A raw SSE connection over node:http (its own socket, no pool): everything it received, as text. */
function rawStream(
  url: string,
  token: string,
  query = '',
  lastEventId?: string,
): Promise<{ status: number; text: string; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(
      `${url}/v1/events${query}`,
      {
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
      },
      (res) => {
        const stream = { status: res.statusCode ?? 0, text: '', close: () => req.destroy() };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (stream.text += chunk));
        res.on('error', () => {});
        resolve(stream);
      },
    );
    req.on('error', reject);
  });
}

async function currentId(rotor: Rotor, secret: string, env: string): Promise<string> {
  const store = await rotor.store();
  return (
    await store.db
      .selectFrom('versions')
      .select('id')
      .where('secret', '=', secret)
      .where('environment', '=', env)
      .where('stage', '=', 'current')
      .executeTakeFirstOrThrow()
  ).id;
}

async function allValues(rotor: Rotor): Promise<string[]> {
  const store = await rotor.store();
  const master = await rotor.masterKey();
  const rows = await store.db
    .selectFrom('versions')
    .selectAll()
    .where('ciphertext', 'is not', null)
    .execute();
  return rows.map((r) => openVersion(master, r));
}

describe('live delivery (rotor/client over SSE)', () => {
  it('a rotation through the engine reaches every connected client by push; each fetches the new value and acknowledges it', async () => {
    const l = await live();
    const clients = [
      l.client({ consumerId: 'api-1' }),
      l.client({ consumerId: 'api-2' }),
      l.client({ consumerId: 'api-3' }),
    ];
    const before = await Promise.all(clients.map((c) => c.get(J, P)));
    await Promise.all(clients.map((c) => c.ready()));
    const changes = clients.map((c) =>
      nextChange(c, (e) => e.secret === J && e.environment === P && e.change === 'rotation'),
    );
    const result = await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' });
    const newId = result.results[0]!.versionId!;
    // A `rotation` event is only ever sent down the SSE stream (the safety-net refresh, 5 min by
    // default, emits none), so each arrival proves push delivered it.
    for (const { event } of await Promise.all(changes)) {
      expect(event).toMatchObject({
        change: 'rotation',
        versionId: newId,
        previousVersionId: result.results[0]!.previousVersionId,
        key: { alg: 'HS256' },
      });
      expect(event).not.toHaveProperty('value');
    }
    for (const [i, c] of clients.entries()) {
      expect(await c.get(J, P)).not.toBe(before[i]);
      expect(c.versions()).toContainEqual({ secret: J, environment: P, version: newId });
      expect((await c.previous(J, P))?.value).toBe(before[i]);
    }
    // Acks reach the store: the operators' view shows everyone on the new version.
    const view = await waitFor(
      'acks',
      async () => {
        const res = await fetch(`${l.url}/v1/consumers?secret=${J}&env=${P}`, {
          headers: { authorization: `Bearer ${l.tokens.operator}` },
        });
        const body = (await res.json()) as {
          consumers: { id: string; holds: { version: string; behind: boolean }[] }[];
          behind: number;
        };
        return body.consumers.length === 3 && body.behind === 0 && body;
      },
      30_000,
    );
    expect(view.consumers.map((c) => c.id).sort()).toEqual(['api-1', 'api-2', 'api-3']);
    expect(view.consumers.every((c) => c.holds[0]!.version === newId)).toBe(true);
  });

  it('a rotation by `rotor rotate` in another process reaches connected clients by push', async () => {
    const l = await live();
    const c = l.client();
    const before = await c.get(J, P);
    await c.ready();
    const change = nextChange(c, (e) => e.secret === J && e.change === 'rotation');
    const child = spawn(process.execPath, [BUILT, 'rotate', J, '--env', P], {
      cwd: l.project.dir,
      env: { ...l.project.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) =>
      child.on('exit', (code) => resolve(code ?? -1)),
    );
    const code = await exited;
    expect(code, stderr).toBe(0);
    // A `rotation` event comes only over SSE (the server's change feed saw the other process's
    // write), never from the 5-min safety-net refresh.
    const { event } = await change;
    expect(event.change).toBe('rotation');
    expect(event.versionId).toBe(await currentId(l.rotor, J, P));
    expect(await c.get(J, P)).not.toBe(before);
  }, 90_000);

  it('retire is postponed while a live consumer holds the old version, and proceeds after its ack or once its heartbeat lapsed', async () => {
    const l = await live();
    const c = l.client({ consumerId: 'api-fast' });
    await c.get(J, P);
    await c.ready();
    const oldId = await currentId(l.rotor, J, P);
    // A consumer that will not follow the rotation: it reports the old version by hand.
    const beat = (version: string) =>
      fetch(`${l.url}/v1/consumers/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${l.tokens.jwtApp}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          consumerId: 'api-slow',
          app: 'api',
          intervalMs: 10_000,
          holds: [{ secret: J, environment: P, version }],
        }),
      });
    expect((await beat(oldId)).status).toBe(200);
    const rotated = nextChange(c, (e) => e.change === 'rotation');
    const newId = (await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' }))
      .results[0]!.versionId!;
    await rotated;
    await waitFor('ack', () => c.versions()[0]?.version === newId);
    l.project.clock.advance(60 * 60_000 + 1);
    expect((await beat(oldId)).status).toBe(200);
    await c.heartbeat();
    expect(await l.engine.retire(actor, { secret: J })).toEqual([
      {
        secret: J,
        environment: P,
        versionId: oldId,
        early: false,
        postponed: true,
        reason: expect.any(String),
      },
    ]);
    const store = await l.rotor.store();
    const notes = (
      await store.db
        .selectFrom('audit_events')
        .select('entry')
        .where('action', '=', 'retire.postponed')
        .execute()
    ).map((r) => JSON.parse(r.entry).notes as string);
    expect(notes.at(-1)).toContain('api/api-slow');
    expect(notes.at(-1)).not.toContain('api-fast');

    // Lapsed: three intervals without a heartbeat no longer hold the retirement up.
    l.project.clock.advance(30_001);
    await c.heartbeat();
    const retiredEvent = nextChange(c, (e) => e.change === 'retire');
    expect(await l.engine.retire(actor, { secret: J })).toEqual([
      { secret: J, environment: P, versionId: oldId, early: false },
    ]);
    expect((await retiredEvent).event).toMatchObject({ versionId: newId, previousVersionId: null });
    expect(await c.previous(J, P)).toBeNull();

    // And after an ack: the slow consumer catches up, the next retirement goes through.
    const second = nextChange(c, (e) => e.change === 'rotation');
    const third = (await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' }))
      .results[0]!.versionId!;
    await second;
    l.project.clock.advance(60 * 60_000 + 1);
    expect((await beat(newId)).status).toBe(200);
    await c.heartbeat();
    expect((await l.engine.retire(actor, { secret: J }))[0]!.postponed).toBe(true);
    expect((await beat(third)).status).toBe(200);
    expect((await l.engine.retire(actor, { secret: J }))[0]).toEqual({
      secret: J,
      environment: P,
      versionId: newId,
      early: false,
    });
  });

  it('an app token sees only the secrets and environments it was granted on the stream, and may report only those', async () => {
    const l = await live();
    const jwt = await rawStream(l.url, l.tokens.jwtApp);
    const narrowed = await rawStream(l.url, l.tokens.jwtApp, '?secrets=SESSION_*');
    const session = await rawStream(l.url, l.tokens.sessionApp, '?env=staging');
    const refused = await rawStream(l.url, l.tokens.operator);
    expect(refused.status).toBe(403);
    refused.close();
    await waitFor(
      'snapshots',
      () =>
        jwt.text.includes('event: snapshot') &&
        narrowed.text.includes('event: snapshot') &&
        session.text.includes('event: snapshot'),
    );
    for (const secret of [J, 'SESSION_SECRET'])
      await l.engine.rotate(actor, { secret, method: 'manual' });
    await waitFor('session events', () => session.text.includes('event: rotation'));
    await new Promise((r) => setTimeout(r, 200));
    const events = (text: string) =>
      [...text.matchAll(/^data: (.*)$/gm)]
        .map(
          (m) =>
            JSON.parse(m[1]!) as {
              secret?: string;
              environment?: string;
              versions?: { secret: string; environment: string }[];
            },
        )
        .flatMap((d): { secret?: string; environment?: string }[] => d.versions ?? [d]);
    expect(events(jwt.text).map((e) => `${e.secret}/${e.environment}`)).toEqual([
      `${J}/${P}`,
      `${J}/${P}`,
    ]);
    expect(events(narrowed.text)).toEqual([]);
    expect(events(session.text).map((e) => `${e.secret}/${e.environment}`)).toEqual([
      'SESSION_SECRET/staging',
      'SESSION_SECRET/staging',
    ]);
    for (const s of [jwt, narrowed, session]) s.close();

    const res = await fetch(`${l.url}/v1/consumers/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${l.tokens.jwtApp}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        consumerId: 'x',
        app: 'api',
        holds: [
          {
            secret: 'SESSION_SECRET',
            environment: P,
            version: await currentId(l.rotor, 'SESSION_SECRET', P),
          },
        ],
      }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'ERR_ROTOR_API_FORBIDDEN',
    );
    const list = await fetch(`${l.url}/v1/consumers`, {
      headers: { authorization: `Bearer ${l.tokens.jwtApp}` },
    });
    expect(list.status).toBe(403);

    // A live consumer id belongs to its token: another app cannot acknowledge in its name.
    const beat = (token: string, version: string, secret = J, environment = P) =>
      fetch(`${l.url}/v1/consumers/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          consumerId: 'api-1',
          app: 'api',
          holds: [{ secret, environment, version }],
        }),
      });
    expect((await beat(l.tokens.jwtApp, await currentId(l.rotor, J, P))).status).toBe(200);
    const stolen = await beat(
      l.tokens.sessionApp,
      await currentId(l.rotor, 'SESSION_SECRET', P),
      'SESSION_SECRET',
    );
    expect(stolen.status).toBe(403);
    expect(((await stolen.json()) as { error: { message: string } }).error.message).toContain(
      'live under another API token',
    );
    l.project.clock.advance(3 * 15_000 + 1);
    expect(
      (
        await beat(
          l.tokens.sessionApp,
          await currentId(l.rotor, 'SESSION_SECRET', P),
          'SESSION_SECRET',
        )
      ).status,
    ).toBe(200);
  });

  it('buildApp serves the events plugin by default (rotor serve has it without configuration)', async () => {
    const l = await live();
    const plain = await buildApp({ rotor: l.rotor, rateLimit: false });
    await plain.listen({ host: '127.0.0.1', port: 0 });
    try {
      const stream = await rawStream(
        `http://127.0.0.1:${(plain.server.address() as AddressInfo).port}`,
        l.tokens.jwtApp,
      );
      expect(stream.status).toBe(200);
      await waitFor(
        'snapshot',
        () => stream.text.includes('event: snapshot') && stream.text.includes(J),
      );
      stream.close();
    } finally {
      await plain.close();
    }
  });

  it('resumes from Last-Event-ID with the events it missed, and gets a snapshot when the id cannot be replayed', async () => {
    const l = await live();
    const first = await rawStream(l.url, l.tokens.jwtApp);
    const id = (
      await waitFor('snapshot id', () => /^id: (\S+)$/m.exec(first.text) ?? undefined)
    )[1]!;
    first.close();
    const a = (await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' }))
      .results[0]!.versionId!;
    // Changes inside one poll interval arrive as one event (the state after both): keep them apart.
    await new Promise((r) => setTimeout(r, 200));
    l.project.clock.advance(DAY);
    const b = (await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' }))
      .results[0]!.versionId!;
    await new Promise((r) => setTimeout(r, 200));
    const resumed = await rawStream(l.url, l.tokens.jwtApp, '', id);
    await waitFor('replay', () => resumed.text.includes(b));
    expect(resumed.text).not.toContain('event: snapshot');
    expect(resumed.text.indexOf(a)).toBeLessThan(resumed.text.indexOf(b));
    resumed.close();
    const stale = await rawStream(l.url, l.tokens.jwtApp, '', 'elsewhere.3');
    await waitFor(
      'snapshot',
      () => stale.text.includes('event: snapshot') && stale.text.includes(b),
    );
    stale.close();
  });

  it('reconnects after the server restarts and picks up a rotation made while it was down', async () => {
    const l = await live();
    const c = l.client();
    const before = await c.get(J, P);
    await c.ready();
    await l.app.close();
    await waitFor('disconnect', () => !c.connected());
    const rotated = (
      await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' })
    ).results[0]!.versionId!;
    const change = nextChange(c, (e) => e.versionId === rotated);
    await l.restart();
    const { event } = await change;
    expect(event.change).toBe('snapshot');
    expect(c.connected()).toBe(true);
    expect(await c.get(J, P)).not.toBe(before);
    // And live events flow again on the new connection.
    const next = nextChange(c, (e) => e.change === 'rotation');
    const again = (await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' }))
      .results[0]!.versionId!;
    expect((await next).event.versionId).toBe(again);
  });

  it('fromServer: a rotor/jwt keyring verifies tokens of the old and the new key across a rotation, and refuses the old after an emergency', async () => {
    const l = await live();
    const c = l.client();
    const keys = createJwtKeys({
      secret: J,
      source: fromServer(c, { env: P }),
      issuer: 'https://api.test',
      audience: 'api',
      maxAge: '15m',
      clock: l.project.clock,
    });
    await keys.ready();
    const oldToken = keys.sign({ sub: 'alice' });
    const oldKid = await currentId(l.rotor, J, P);
    const reloaded = nextChange(c, (e) => e.change === 'rotation');
    const newKid = (
      await l.engine.rotate(actor, { secret: J, environments: [P], method: 'manual' })
    ).results[0]!.versionId!;
    // The keyring reloads only on the client's change events (SSE; the safety-net refresh is
    // 5 min), so the new kid showing up proves push carried it.
    expect((await reloaded).event.versionId).toBe(newKid);
    const newToken = await waitFor(
      'new signing key',
      async () => {
        const t = keys.sign({ sub: 'bob' });
        return (
          JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid === newKid && t
        );
      },
      30_000,
    );
    expect(keys.verify(oldToken).header.kid).toBe(oldKid);
    expect(keys.verify(newToken).header.kid).toBe(newKid);

    const emergency = nextChange(c, (e) => e.change === 'rotation');
    await l.engine.rotate(actor, {
      secret: J,
      environments: [P],
      method: 'emergency',
      emergency: true,
      reason: 'leaked',
    });
    await emergency;
    await waitFor(
      'old key refused',
      async () => {
        try {
          keys.verify(newToken);
          return false;
        } catch (error) {
          return (error as { code: string }).code.startsWith('ERR_ROTOR_JWT_KID');
        }
      },
      30_000,
    );
    await keys.close();
  });

  it('spreads fetches after a graceful rotation over spreadMs, but applies an emergency at once', async () => {
    const l = await live();
    // A spread of a day: were the emergency spread too, it would almost surely (1 - 30 s / 1 day)
    // miss the 30 s wait below, so its arrival proves it was applied at once.
    const c = l.client({ spreadMs: DAY });
    const before = await c.get(J, P);
    await c.ready();
    const emergency = nextChange(c, (e) => e.change === 'rotation');
    await l.engine.rotate(actor, {
      secret: J,
      environments: [P],
      method: 'emergency',
      emergency: true,
      reason: 'leaked',
    });
    let arrived: Awaited<typeof emergency> | undefined;
    void emergency.then((r) => (arrived = r));
    const { event } = await waitFor('emergency applied', () => arrived);
    expect(event.previousVersionId).toBeNull();
    expect(await c.get(J, P)).not.toBe(before);
  });

  it('never puts a value in the event stream or the server log', async () => {
    const l = await live();
    const stream = await rawStream(l.url, l.tokens.jwtApp);
    const session = await rawStream(l.url, l.tokens.sessionApp);
    const c = l.client();
    await c.get(J, P);
    await c.ready();
    for (let i = 0; i < 2; i++) {
      const moved = nextChange(c, (e) => e.change === 'rotation');
      for (const secret of [J, 'SESSION_SECRET'])
        await l.engine.rotate(actor, { secret, method: 'manual' });
      await moved;
    }
    await l.engine.rotate(actor, {
      secret: J,
      environments: [P],
      method: 'emergency',
      emergency: true,
      reason: 'test',
    });
    await waitFor('events', () => (stream.text.match(/event: rotation/g) ?? []).length >= 3);
    // Heartbeat comment lines keep idle streams alive (every second on this test server).
    await waitFor('heartbeat comment', () => stream.text.includes('\n: heartbeat\n\n'));
    stream.close();
    session.close();
    const values = await allValues(l.rotor);
    expect(values.length).toBeGreaterThan(3);
    const seen = stream.text + session.text + l.logs();
    expect(l.logs()).toContain('/v1/events');
    for (const v of [...values, await c.get(J, P)]) expect(seen).not.toContain(v);
  });
});

// What rotor/client may import is eslint.config.js's rotor/import-footprint rule.
describe('rotor/client', () => {
  it('is the package subpath rotor/client', () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    };
    expect(pkg.exports['./client']).toEqual({
      types: './dist/sdk/client/index.d.ts',
      default: './dist/sdk/client/index.js',
    });
  });
});
