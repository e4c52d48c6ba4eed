import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  createLocalJWKSet,
  importJWK,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion } from '../src/core/vault/versions.js';
import { createProject, type TestProject } from './helpers/project.js';
import { entryArgs } from './helpers/spawned-entries.js';

const MIN = 60_000;
const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000003',
  method: 'manual',
};
const ENV = 'production';

const POLICY = `version: 1
environments: [staging, production]
defaults: { grace: 1h }
secrets:
  JWT_SIGNING_KEY:
    kind: jwt-keypair
    cadence: 90d
  JWT_ES_KEY:
    kind: jwt-keypair
    cadence: 90d
    config: { algorithm: ES256, publishAhead: 30m }
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
`;

const ALGS = [
  {
    secret: 'JWT_SIGNING_KEY',
    alg: 'EdDSA',
    kty: 'OKP',
    crv: 'Ed25519',
    publishAhead: 15 * MIN,
    members: ['kty', 'crv', 'x', 'kid', 'alg', 'use'],
  },
  {
    secret: 'JWT_ES_KEY',
    alg: 'ES256',
    kty: 'EC',
    crv: 'P-256',
    publishAhead: 30 * MIN,
    members: ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use'],
  },
] as const;

const PUBLIC_MEMBERS = new Set(['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use']);

async function versions(p: TestProject, secret: string, env = ENV) {
  const rotor = p.rotor();
  const store = await rotor.store();
  const rows = await store.db
    .selectFrom('versions')
    .selectAll()
    .where('secret', '=', secret)
    .where('environment', '=', env)
    .orderBy(sql`rowid`)
    .execute();
  const master = await rotor.masterKey();
  const values = new Map(
    rows.filter((r) => r.ciphertext).map((r) => [r.id, openVersion(master, r)]),
  );
  await rotor.close();
  return { rows, values, stages: rows.map((r) => r.stage) };
}

async function rotations(p: TestProject, secret: string) {
  const rotor = p.rotor();
  const store = await rotor.store();
  const rows = await store.db
    .selectFrom('rotations')
    .selectAll()
    .where('secret', '=', secret)
    .orderBy('started_at')
    .orderBy(sql`rowid`)
    .execute();
  await rotor.close();
  return rows;
}

async function auditEntries(
  p: TestProject,
): Promise<{ action: string; method: string; notes: string; details: Record<string, unknown> }[]> {
  const rotor = p.rotor();
  const store = await rotor.store();
  const rows = await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute();
  await rotor.close();
  return rows.map((r) => JSON.parse(r.entry));
}

/** The JWK Set as `rotor jwks --json` prints it, checked to hold public members only. */
async function jwks(p: TestProject, secret: string, env = ENV): Promise<JSONWebKeySet> {
  const r = await p.cli(['jwks', secret, '--env', env, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const set = JSON.parse(r.stdout) as JSONWebKeySet;
  expect(Object.keys(set)).toEqual(['keys']);
  for (const key of set.keys) {
    expect(key).not.toHaveProperty('d');
    for (const member of Object.keys(key))
      expect(PUBLIC_MEMBERS.has(member), `member ${member}`).toBe(true);
    expect(key.use).toBe('sig');
    expect(typeof key.kid).toBe('string');
  }
  return set;
}

async function rotate(p: TestProject, secret: string, extra: string[] = []) {
  const r = await p.cli(['rotate', secret, '--env', ENV, '--json', ...extra]);
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : undefined };
}

/** A token signed with the private JWK `rotor get` hands the application. */
async function signWithCurrent(p: TestProject, secret: string, alg: string): Promise<string> {
  const got = await p.cli(['get', secret, '--env', ENV]);
  expect(got.code, got.stderr).toBe(0);
  const jwk = JSON.parse(got.stdout) as JWK;
  return new SignJWT({ sub: 'user-1' })
    .setProtectedHeader({ alg, kid: jwk.kid! })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(await importJWK(jwk, alg));
}

describe('jwt-keypair rotator', () => {
  for (const a of ALGS) {
    describe(a.alg, () => {
      it('makes a first key current at once, stored as a private JWK whose kid is the version id', async () => {
        const p = await createProject({ policy: POLICY });
        const r = await rotate(p, a.secret);
        expect(r.code, r.stderr).toBe(0);
        expect(r.json.results[0]).toMatchObject({ outcome: 'succeeded' });
        const { rows, values } = await versions(p, a.secret);
        expect(rows.map((v) => v.stage)).toEqual(['current']);
        const row = rows[0]!;
        expect(JSON.parse(row.meta)).toEqual({ kid: row.id, alg: a.alg, crv: a.crv });
        const jwk = JSON.parse(values.get(row.id)!);
        expect(jwk).toMatchObject({ kty: a.kty, crv: a.crv, alg: a.alg, kid: row.id });
        expect(typeof jwk.d).toBe('string');
        const set = await jwks(p, a.secret);
        expect(set.keys).toEqual([
          {
            kty: a.kty,
            crv: a.crv,
            x: jwk.x,
            ...(a.alg === 'ES256' ? { y: jwk.y } : {}),
            kid: row.id,
            alg: a.alg,
            use: 'sig',
          },
        ]);
        expect(Object.keys(set.keys[0]!).sort()).toEqual([...a.members].sort());
      });

      it('publishes a new key in standby, refuses promotion before publish-ahead, then promotes; tokens verify through the JWK Set', async () => {
        const p = await createProject({ policy: POLICY });
        await rotate(p, a.secret);
        const first = (await versions(p, a.secret)).rows[0]!.id;

        const second = await rotate(p, a.secret);
        expect(second.code, second.stderr).toBe(0);
        const parked = second.json.results[0];
        expect(parked).toMatchObject({
          outcome: 'standby',
          promoteAfter: new Date(p.clock.now() + a.publishAhead).toISOString(),
        });
        const standbyId = parked.versionId as string;
        expect((await versions(p, a.secret)).stages).toEqual(['current', 'standby']);
        const [rotation] = (await rotations(p, a.secret)).slice(-1);
        expect(rotation).toMatchObject({
          state: 'waiting',
          step: 'standby',
          promote_after: p.clock.now() + a.publishAhead,
          pending_version_id: standbyId,
        });
        const standbyAudit = (await auditEntries(p)).find((e) => e.action === 'rotate.standby')!;
        expect(standbyAudit.details).toMatchObject({
          version: standbyId,
          promote_after: new Date(p.clock.now() + a.publishAhead).toISOString(),
        });

        // Published before it signs; the current key still signs.
        expect((await jwks(p, a.secret)).keys.map((k) => k.kid)).toEqual([first, standbyId]);
        const before = await signWithCurrent(p, a.secret, a.alg);

        // One millisecond short of publish-ahead: refused, and nothing changes.
        p.clock.advance(a.publishAhead - 1);
        const auditBefore = (await auditEntries(p)).length;
        const early = await rotate(p, a.secret);
        expect(early.code).toBe(1);
        expect(early.json.results[0]).toMatchObject({
          outcome: 'waiting',
          versionId: standbyId,
          error: { code: 'ERR_ROTOR_ROTATION_WAITING' },
        });
        expect(early.json.results[0].error.message).toContain(
          new Date(p.clock.now() + 1).toISOString(),
        );
        const human = await p.cli(['rotate', a.secret, '--env', ENV]);
        expect(human.code).toBe(1);
        expect(human.stdout).toContain(
          `may become current only from ${new Date(p.clock.now() + 1).toISOString()}`,
        );
        expect((await versions(p, a.secret)).stages).toEqual(['current', 'standby']);
        expect((await auditEntries(p)).length).toBe(auditBefore);

        p.clock.advance(1);
        const promoted = await rotate(p, a.secret);
        expect(promoted.code, promoted.stderr).toBe(0);
        expect(promoted.json.results[0]).toMatchObject({
          outcome: 'succeeded',
          versionId: standbyId,
          previousVersionId: first,
          graceUntil: new Date(p.clock.now() + 3_600_000).toISOString(),
        });
        expect((await versions(p, a.secret)).stages).toEqual(['previous', 'current']);
        expect((await rotations(p, a.secret)).at(-1)).toMatchObject({ state: 'succeeded' });

        // The new current key signs; remote verifiers holding the JWK Set accept its tokens, and
        // tokens from the previous key during its grace window.
        const during = await jwks(p, a.secret);
        expect(during.keys.map((k) => k.kid)).toEqual([standbyId, first]);
        const after = await signWithCurrent(p, a.secret, a.alg);
        const verifier = createLocalJWKSet(during);
        expect(
          (await jwtVerify(after, verifier, { algorithms: [a.alg] })).protectedHeader.kid,
        ).toBe(standbyId);
        expect(
          (await jwtVerify(before, verifier, { algorithms: [a.alg] })).protectedHeader.kid,
        ).toBe(first);

        // After the grace window and `rotor retire`, the previous key is gone from the set.
        p.clock.advance(3_600_000);
        expect((await p.cli(['retire'])).code).toBe(0);
        const later = await jwks(p, a.secret);
        expect(later.keys.map((k) => k.kid)).toEqual([standbyId]);
        await expect(
          jwtVerify(before, createLocalJWKSet(later), { algorithms: [a.alg] }),
        ).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
        expect(
          (await jwtVerify(after, createLocalJWKSet(later), { algorithms: [a.alg] })).payload.sub,
        ).toBe('user-1');
      });
    });
  }

  it('an emergency rotation skips standby: the new key is current at once and the old one compromised', async () => {
    const p = await createProject({ policy: POLICY });
    await rotate(p, 'JWT_SIGNING_KEY');
    const old = (await versions(p, 'JWT_SIGNING_KEY')).rows[0]!.id;
    const r = await rotate(p, 'JWT_SIGNING_KEY', [
      '--emergency',
      '--reason',
      'private key in a public gist',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.results[0]).toMatchObject({ outcome: 'succeeded', retiredVersionIds: [old] });
    const { rows } = await versions(p, 'JWT_SIGNING_KEY');
    expect(rows.map((v) => [v.stage, v.compromised])).toEqual([
      ['retired', 1],
      ['current', 0],
    ]);
    expect((await jwks(p, 'JWT_SIGNING_KEY')).keys.map((k) => k.kid)).toEqual([rows[1]!.id]);
    expect((await auditEntries(p)).some((e) => e.action === 'rotate.standby')).toBe(false);
  });

  it('an emergency during a standby wait destroys the standby key and makes a fresh key current', async () => {
    const p = await createProject({ policy: POLICY });
    await rotate(p, 'JWT_SIGNING_KEY');
    const standby = (await rotate(p, 'JWT_SIGNING_KEY')).json.results[0].versionId;
    const r = await rotate(p, 'JWT_SIGNING_KEY', [
      '--emergency',
      '--reason',
      'store backup leaked',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { rows } = await versions(p, 'JWT_SIGNING_KEY');
    expect(rows.map((v) => v.stage)).toEqual(['retired', 'failed', 'current']);
    expect(rows[1]!.id).toBe(standby);
    expect(rows[1]!.ciphertext).toBeNull();
    expect((await rotations(p, 'JWT_SIGNING_KEY')).map((x) => [x.state, x.error_code])).toEqual([
      ['succeeded', null],
      ['rolled_back', 'ERR_ROTOR_ROTATION_SUPERSEDED'],
      ['succeeded', null],
    ]);
    expect((await jwks(p, 'JWT_SIGNING_KEY')).keys.map((k) => k.kid)).toEqual([rows[2]!.id]);
  });

  it('rotating every environment parks each in standby, staging first, and continues them in order', async () => {
    const p = await createProject({ policy: POLICY });
    expect((await p.cli(['rotate', 'JWT_SIGNING_KEY'])).code).toBe(0);
    const parked = await p.cli(['rotate', 'JWT_SIGNING_KEY', '--json']);
    expect(parked.code, parked.stderr).toBe(0);
    expect(
      JSON.parse(parked.stdout).results.map((r: { environment: string; outcome: string }) => [
        r.environment,
        r.outcome,
      ]),
    ).toEqual([
      ['staging', 'standby'],
      ['production', 'standby'],
    ]);
    const early = await p.cli(['rotate', 'JWT_SIGNING_KEY', '--json']);
    expect(early.code).toBe(1);
    expect(JSON.parse(early.stdout).results.map((r: { outcome: string }) => r.outcome)).toEqual([
      'waiting',
      'skipped',
    ]);
    p.clock.advance(15 * MIN);
    const done = await p.cli(['rotate', 'JWT_SIGNING_KEY']);
    expect(done.code, done.stdout).toBe(0);
    expect(done.stdout.match(/^rotated/gm)).toHaveLength(2);
    expect((await versions(p, 'JWT_SIGNING_KEY', 'staging')).stages).toEqual([
      'previous',
      'current',
    ]);
    expect((await versions(p, 'JWT_SIGNING_KEY', 'production')).stages).toEqual([
      'previous',
      'current',
    ]);
  });

  it('rotor resume promotes waiting rotations whose time has come and leaves the others waiting', async () => {
    const p = await createProject({ policy: POLICY });
    for (const a of ALGS) {
      await rotate(p, a.secret);
      await rotate(p, a.secret);
    }
    p.clock.advance(20 * MIN); // past EdDSA's 15m, short of ES256's 30m
    const resumed = await p.cli(['resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const outcomes = JSON.parse(resumed.stdout).outcomes as {
      secret: string;
      action: string;
      detail: string;
    }[];
    expect(outcomes.map((o) => [o.secret, o.action])).toEqual([
      ['JWT_SIGNING_KEY', 'completed'],
      ['JWT_ES_KEY', 'waiting'],
    ]);
    expect(outcomes[1]!.detail).toContain(new Date(p.clock.now() + 10 * MIN).toISOString());
    expect((await versions(p, 'JWT_SIGNING_KEY')).stages).toEqual(['previous', 'current']);
    expect((await versions(p, 'JWT_ES_KEY')).stages).toEqual(['current', 'standby']);
    p.clock.advance(10 * MIN);
    const again = await p.cli(['resume', '--json']);
    expect(JSON.parse(again.stdout).outcomes.map((o: { action: string }) => o.action)).toEqual([
      'completed',
    ]);
    expect((await versions(p, 'JWT_ES_KEY')).stages).toEqual(['previous', 'current']);
  });

  it('a waiting rotation is `rotating` with "standby until …" in status, never stuck, and check stays OK', async () => {
    const p = await createProject({
      policy:
        'version: 1\nenvironments: [production]\nsecrets:\n  JWT_SIGNING_KEY: { kind: jwt-keypair, cadence: 90d, config: { publishAhead: 1h } }\n',
    });
    await rotate(p, 'JWT_SIGNING_KEY');
    await rotate(p, 'JWT_SIGNING_KEY');
    const until = new Date(p.clock.now() + 3_600_000).toISOString();
    p.clock.advance(40 * MIN); // longer than a running rotation may sit before it counts as stuck
    const status = await p.cli(['status', '--secret', 'JWT_SIGNING_KEY', '--json']);
    const row = JSON.parse(status.stdout).rows[0];
    expect(row).toMatchObject({
      state: 'rotating',
      ageState: 'ok',
      rotation: { state: 'waiting', step: 'standby', stuck: false, promoteAfter: until },
    });
    const table = await p.cli(['status', '--secret', 'JWT_SIGNING_KEY']);
    expect(table.stdout).toMatch(/JWT_SIGNING_KEY\s+production\s+rotating\s.*standby until /);
    expect(table.stdout).toContain(`standby until ${until}`);
    const check = await p.cli(['check']);
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toMatch(
      /^ROTOR OK - 1 of 1 secret×environment rows ok \| .*stuck=0 rotating=1/,
    );
  });

  it('rotor jwks refuses a jwt-hmac secret (symmetric keys are never published) and audits reads as read.jwks', async () => {
    const p = await createProject({ policy: POLICY });
    await rotate(p, 'JWT_ACCESS_SECRET');
    const refused = await p.cli(['jwks', 'JWT_ACCESS_SECRET', '--env', ENV, '--json']);
    expect(refused.code).toBe(1);
    // With --json the error is the one JSON object on stdout; no key material is printed.
    expect(Object.keys(JSON.parse(refused.stdout))).toEqual(['error']);
    expect(JSON.parse(refused.stdout).error).toMatchObject({
      code: 'ERR_ROTOR_JWKS_NOT_PUBLISHABLE',
      details: { secret: 'JWT_ACCESS_SECRET', kind: 'jwt-hmac' },
    });
    expect(JSON.parse(refused.stdout).error.message).toContain('symmetric');

    const none = await p.cli(['jwks', 'JWT_SIGNING_KEY', '--env', ENV]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('ERR_ROTOR_VERSION_NOT_FOUND');

    await rotate(p, 'JWT_SIGNING_KEY');
    const human = await p.cli(['jwks', 'JWT_SIGNING_KEY', '--env', ENV]);
    expect(human.code).toBe(0);
    expect(JSON.parse(human.stdout).keys).toHaveLength(1);
    expect(human.stderr).toMatch(/^current {2}\S+ {2}EdDSA\nrequest /);
    const reads = (await auditEntries(p)).filter((e) => e.action === 'read.jwks');
    expect(reads).toHaveLength(1);
    expect(reads[0]!.notes).toMatch(/^current [0-9a-f-]{36}$/);
  });

  it('rejects a bad algorithm or publishAhead in rotor.yaml with the field named', async () => {
    const p = await createProject({ policy: POLICY });
    p.writePolicy(
      'version: 1\nenvironments: [production]\nsecrets:\n  K: { kind: jwt-keypair, cadence: 90d, config: { algorithm: RS256, publishAhead: soon } }\n',
    );
    const r = await p.cli(['apply']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config.algorithm');
    expect(r.stderr).toContain('config.publishAhead');
  });

  it('imports an existing private JWK after checking it, and refuses a mismatched or broken one', async () => {
    const p = await createProject({ policy: POLICY });
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'jwk',
    });
    const wrongCurve = await p.cli(['import', 'JWT_SIGNING_KEY', '--env', ENV], {
      stdin: JSON.stringify(ec),
    });
    expect(wrongCurve.code).toBe(1);
    expect(wrongCurve.stderr).toContain('ERR_ROTOR_VALUE_INVALID');
    const mismatched = await p.cli(['import', 'JWT_SIGNING_KEY', '--env', ENV], {
      stdin: JSON.stringify({
        ...ed,
        x: generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x,
      }),
    });
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toContain('do not match');
    expect(mismatched.stderr).not.toContain(ed.d!);
    const broken = await p.cli(['import', 'JWT_SIGNING_KEY', '--env', ENV], { stdin: 'not a jwk' });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('ERR_ROTOR_VALUE_INVALID');
    const ok = await p.cli(['import', 'JWT_SIGNING_KEY', '--env', ENV], {
      stdin: JSON.stringify(ed),
    });
    expect(ok.code, ok.stderr).toBe(0);
    const set = await jwks(p, 'JWT_SIGNING_KEY');
    expect(set.keys[0]).toMatchObject({ x: ed.x, alg: 'EdDSA' });
  });
});

describe(
  'jwt-keypair: a rotation killed with SIGKILL at a standby step',
  { timeout: 120_000 },
  () => {
    const SECRET = 'JWT_SIGNING_KEY';

    function crashAt(p: TestProject, point: string, at: number) {
      return spawnSync(
        process.execPath,
        [...entryArgs('crash-rotate'), p.dir, point, SECRET, ENV, 'normal', String(at)],
        {
          encoding: 'utf8',
          env: { ...process.env, ...p.env },
          timeout: 60_000,
        },
      );
    }

    async function assertUsable(p: TestProject) {
      const { rows, values } = await versions(p, SECRET);
      const live = rows.filter(
        (r) => r.stage === 'current' || r.stage === 'previous' || r.stage === 'standby',
      );
      expect(rows.filter((r) => r.stage === 'current')).toHaveLength(1);
      for (const r of live) expect(JSON.parse(values.get(r.id)!).d).toBeTypeOf('string');
      return rows;
    }

    // Before verify:done the new key is unproven and resume rolls back; from verify:done it is
    // proven, and resume parks it in standby instead of promoting it early.
    const parking: Array<[string, 'rolled-back' | 'waiting']> = [
      ['create:started', 'rolled-back'],
      ['apply:started', 'rolled-back'],
      ['verify:started', 'rolled-back'],
      ['verify:done', 'waiting'],
      ['standby:done', 'waiting'],
    ];
    for (const [point, expected] of parking) {
      it(`after ${point}: resume ${expected === 'waiting' ? 'keeps the key in standby until publish-ahead has passed, then promotes it' : 'rolls back'}`, async () => {
        const p = await createProject({ policy: POLICY });
        const rotor = p.rotor();
        await createRotationEngine({ rotor }).rotate(actor, {
          secret: SECRET,
          environments: [ENV],
          method: 'manual',
        });
        await rotor.close();
        const old = (await versions(p, SECRET)).rows[0]!.id;

        const child = crashAt(p, point, p.clock.now());
        expect(child.signal, child.stderr).toBe('SIGKILL');
        await assertUsable(p);

        const resumed = await p.cli(['resume', '--json']);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(
          JSON.parse(resumed.stdout).outcomes.map((o: { action: string }) => o.action),
        ).toEqual([expected]);
        let rows = await assertUsable(p);
        expect(rows.find((r) => r.stage === 'current')!.id).toBe(old);
        if (expected === 'rolled-back') {
          // A key made before the crash is destroyed (failed); none was stored after create:started.
          expect(rows.filter((r) => r.stage !== 'failed').map((r) => r.stage)).toEqual(['current']);
          expect(rows.filter((r) => r.stage === 'failed').every((r) => r.ciphertext === null)).toBe(
            true,
          );
          expect((await rotations(p, SECRET)).at(-1)!.state).toBe('rolled_back');
          return;
        }
        expect(rows.map((r) => r.stage)).toEqual(['current', 'standby']);
        expect((await rotations(p, SECRET)).at(-1)).toMatchObject({
          state: 'waiting',
          promote_after: p.clock.now() + 15 * MIN,
        });

        p.clock.advance(15 * MIN);
        const again = await p.cli(['resume', '--json']);
        expect(JSON.parse(again.stdout).outcomes.map((o: { action: string }) => o.action)).toEqual([
          'completed',
        ]);
        rows = await assertUsable(p);
        expect(rows.map((r) => r.stage)).toEqual(['previous', 'current']);
        expect((await rotations(p, SECRET)).at(-1)!.state).toBe('succeeded');
      });
    }

    // Continuing a waiting rotation: `retire:done` is the superseded older previous key retired
    // inside promotion, `promote:done` the committed promotion.
    for (const point of ['retire:done', 'promote:done']) {
      it(`after ${point} while continuing from standby: resume finishes the promotion`, async () => {
        const p = await createProject({ policy: POLICY });
        const rotor = p.rotor();
        const engine = createRotationEngine({ rotor });
        const rotateOnce = () =>
          engine.rotate(actor, { secret: SECRET, environments: [ENV], method: 'manual' });
        await rotateOnce(); // v1 current
        await rotateOnce(); // v2 standby
        p.clock.advance(15 * MIN);
        await rotateOnce(); // v2 current, v1 previous
        const v3 = (await rotateOnce()).results[0]!.versionId!; // v3 standby
        await rotor.close();
        p.clock.advance(15 * MIN);

        const child = crashAt(p, point, p.clock.now());
        expect(child.signal, child.stderr).toBe('SIGKILL');
        await assertUsable(p);

        const resumed = await p.cli(['resume', '--json']);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(
          JSON.parse(resumed.stdout).outcomes.map((o: { action: string }) => o.action),
        ).toEqual(['completed']);
        const rows = await assertUsable(p);
        expect(rows.map((r) => r.stage)).toEqual(['retired', 'previous', 'current']);
        expect(rows[2]!.id).toBe(v3);
        expect((await rotations(p, SECRET)).every((r) => r.state === 'succeeded')).toBe(true);
        const next = await p.cli(['rotate', SECRET, '--env', ENV, '--json']);
        expect(JSON.parse(next.stdout).results[0].outcome).toBe('standby');
      });
    }

    it('keeps the previous key through a crash after the emergency promotion, then revokes it', async () => {
      const p = await createProject({ policy: POLICY });
      const rotor = p.rotor();
      await createRotationEngine({ rotor }).rotate(actor, {
        secret: SECRET,
        environments: [ENV],
        method: 'manual',
      });
      await rotor.close();
      const child = spawnSync(
        process.execPath,
        [
          ...entryArgs('crash-rotate'),
          p.dir,
          'promote:done',
          SECRET,
          ENV,
          'emergency',
          String(p.clock.now()),
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, ...p.env },
          timeout: 60_000,
        },
      );
      expect(child.signal, child.stderr).toBe('SIGKILL');
      expect((await p.cli(['resume'])).code).toBe(0);
      const { rows } = await versions(p, SECRET);
      expect(rows.map((r) => [r.stage, r.compromised])).toEqual([
        ['retired', 1],
        ['current', 0],
      ]);
    });
  },
);
