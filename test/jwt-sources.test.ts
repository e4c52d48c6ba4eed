// Key sources against a real Rotor project: fromEnv over what `rotor export` / `rotor run`
// deliver (the kid travels beside each value and can never be paired with another version's),
// and fromStore over the store itself, read-only, following rotations made by another process.
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { formatKidVariable } from '../src/core/delivery/kid-variable.js';
import { generateMasterKey } from '../src/core/crypto/envelope.js';
import type { RotorError } from '../src/core/errors.js';
import { insertVersion } from '../src/core/vault/versions.js';
import {
  createJwtKeys,
  fromEnv,
  fromStore,
  type JwtKeysOptions,
  type KeySource,
} from '../src/sdk/jwt/index.js';
import { AUDIENCE, ed, expectRejection, forge, goodClaims, ISSUER } from './helpers/jwt.js';
import { createProject, type TestProject } from './helpers/project.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SDK = pathToFileURL(fileURLToPath(new URL('../dist/sdk/jwt/index.js', import.meta.url))).href;
const HOUR = 3_600_000;
const NAME = 'JWT_ACCESS_SECRET';

function keyring(source: KeySource, options: Partial<JwtKeysOptions> = {}) {
  return createJwtKeys({
    secret: NAME,
    source,
    issuer: ISSUER,
    audience: AUDIENCE,
    type: 'at+jwt',
    maxAge: '15m',
    ...options,
  });
}

function kidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string })
    .kid;
}

async function exported(project: TestProject): Promise<Record<string, string>> {
  const result = await project.cli(['export', '--env', 'staging', '--format', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, string>;
}

async function versionIds(project: TestProject, secret = NAME): Promise<Record<string, string>> {
  const rotor = project.rotor();
  try {
    const store = await rotor.store();
    const rows = await store.db
      .selectFrom('versions')
      .select(['id', 'stage'])
      .where('secret', '=', secret)
      .where('environment', '=', 'staging')
      .execute();
    return Object.fromEntries(
      rows.filter((r) => r.stage !== 'retired').map((r) => [r.stage, r.id]),
    );
  } finally {
    await rotor.close();
  }
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI as its own process, with the real clock. */
function rotorProcess(
  dir: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Exit> {
  return new Promise((settle) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'tester', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('close', (code) => settle({ code, stdout, stderr }));
  });
}

describe('fromEnv', () => {
  it('reads what rotor export delivers: signs with the current kid and accepts the previous key during its grace window', async () => {
    const project = await createProject();
    expect((await project.cli(['rotate', NAME, '--env', 'staging'])).code).toBe(0);
    const first = await exported(project);
    const before = keyring(fromEnv({ env: first }), { clock: project.clock });
    await before.ready();
    const t1 = before.sign({ sub: 'user-1' });
    project.clock.advance(60_000);
    expect((await project.cli(['rotate', NAME, '--env', 'staging'])).code).toBe(0);
    const second = await exported(project);
    expect(
      Object.keys(second)
        .filter((k) => k.startsWith(NAME))
        .sort(),
    ).toEqual([
      NAME,
      `${NAME}_KID`,
      `${NAME}_PREVIOUS`,
      `${NAME}_PREVIOUS_KID`,
      `${NAME}_PREVIOUS_UNTIL`,
    ]);
    const ids = await versionIds(project);
    const after = keyring(fromEnv({ env: second }), { clock: project.clock });
    await after.ready();
    expect(kidOf(t1)).toBe(ids.previous);
    expect(after.verify(t1)).toMatchObject({ kid: ids.previous, stage: 'previous' });
    expect(kidOf(after.sign({ sub: 'user-1' }))).toBe(ids.current);
    project.clock.advance(HOUR); // JWT_ACCESS_SECRET's grace is 1h in the default policy
    expectRejection(() => after.verify(t1), 'ERR_ROTOR_JWT_KID_RETIRED', /grace window over/);
  });

  it('never pairs a value with another version’s kid', async () => {
    const project = await createProject();
    await project.cli(['rotate', NAME, '--env', 'staging']);
    const first = await exported(project);
    await project.cli(['rotate', NAME, '--env', 'staging']);
    const second = await exported(project);
    const load = (env: NodeJS.ProcessEnv) => fromEnv({ env }).load(NAME);
    // A deploy that updated the value but kept the old kid, and one that swapped current and previous.
    await expect(load({ ...second, [`${NAME}_KID`]: first[`${NAME}_KID`] })).rejects.toMatchObject({
      code: 'ERR_ROTOR_JWT_SOURCE_KID_MISMATCH',
      message: expect.stringMatching(/does not describe the value in JWT_ACCESS_SECRET/),
    });
    await expect(
      load({ ...second, [NAME]: second[`${NAME}_PREVIOUS`], [`${NAME}_PREVIOUS`]: second[NAME] }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_JWT_SOURCE_KID_MISMATCH' });
    await expect(
      load({ ...second, [`${NAME}_PREVIOUS_KID`]: second[`${NAME}_KID`] }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_JWT_SOURCE_KID_MISMATCH' });
    const { [`${NAME}_KID`]: _kid, ...noKid } = second;
    await expect(load(noKid)).rejects.toMatchObject({
      code: 'ERR_ROTOR_JWT_SOURCE_INVALID',
      message: expect.stringMatching(/JWT_ACCESS_SECRET_KID is not set.*rotor run/),
    });
    await expect(load({ ...second, [`${NAME}_KID`]: 'not-a-descriptor' })).rejects.toMatchObject({
      code: 'ERR_ROTOR_JWT_SOURCE_INVALID',
    });
    const { [`${NAME}_PREVIOUS_UNTIL`]: _until, ...noUntil } = second;
    await expect(load(noUntil)).rejects.toMatchObject({
      code: 'ERR_ROTOR_JWT_SOURCE_INVALID',
      message: expect.stringMatching(/PREVIOUS_UNTIL/),
    });
    const { [`${NAME}_PREVIOUS`]: _previous, ...noPrevious } = second;
    await expect(load(noPrevious)).rejects.toMatchObject({
      code: 'ERR_ROTOR_JWT_SOURCE_INVALID',
      message: expect.stringMatching(/PREVIOUS_KID is set without/),
    });
    await expect(load({})).rejects.toMatchObject({
      code: 'ERR_ROTOR_JWT_SOURCE_INVALID',
      message: expect.stringMatching(/JWT_ACCESS_SECRET is not set/),
    });
    // The descriptor holds the kid, the algorithm, the encoding and a 16-character check: no value.
    expect(second[`${NAME}_KID`]).toMatch(/^[0-9a-f-]{36}\.HS256\.base64\.[A-Za-z0-9_-]{16}$/);
    expect(second[`${NAME}_KID`]!.includes(second[NAME]!)).toBe(false);
  });

  it('honours NAME_ON_ROTATE=invalidate and carries jwt-keypair keys as a private JWK', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' });
    const [current, previous] = [randomUUID(), randomUUID()];
    const value = JSON.stringify({ ...jwk, alg: 'EdDSA', kid: current });
    const old = generateKeyPairSync('ed25519').privateKey;
    const oldValue = JSON.stringify({
      ...old.export({ format: 'jwk' }),
      alg: 'EdDSA',
      kid: previous,
    });
    const env = {
      [NAME]: value,
      [`${NAME}_KID`]: formatKidVariable(
        NAME,
        { kid: current, alg: 'EdDSA', encoding: 'jwk' },
        value,
      ),
      [`${NAME}_PREVIOUS`]: oldValue,
      [`${NAME}_PREVIOUS_KID`]: formatKidVariable(
        NAME,
        { kid: previous, alg: 'EdDSA', encoding: 'jwk' },
        oldValue,
      ),
      [`${NAME}_PREVIOUS_UNTIL`]: new Date(Date.now() + HOUR).toISOString(),
    };
    const oldKeys = keyring(
      fromEnv({ env: { [NAME]: oldValue, [`${NAME}_KID`]: env[`${NAME}_PREVIOUS_KID`] } }),
    );
    await oldKeys.ready();
    const oldToken = oldKeys.sign({ sub: 'user-1' });
    const dual = keyring(fromEnv({ env }));
    await dual.ready();
    expect(dual.verify(oldToken).stage).toBe('previous');
    expect(dual.verify(dual.sign({ sub: 'user-1' }))).toMatchObject({
      kid: current,
      header: { alg: 'EdDSA' },
    });
    const invalidate = keyring(fromEnv({ env: { ...env, [`${NAME}_ON_ROTATE`]: 'invalidate' } }));
    await invalidate.ready();
    expectRejection(
      () => invalidate.verify(oldToken),
      'ERR_ROTOR_JWT_KID_RETIRED',
      /on-rotate: invalidate/,
    );
  });

  it('carries jwt-keypair keys from rotor export (private JWK, EdDSA)', async () => {
    const project = await createProject({
      policy: [
        'version: 1',
        'environments: [staging]',
        'secrets:',
        '  JWT_SIGNING_KEY:',
        '    kind: jwt-keypair',
        '    cadence: 90d',
        '    config: { algorithm: EdDSA }',
        '',
      ].join('\n'),
    });
    expect((await project.cli(['rotate', 'JWT_SIGNING_KEY', '--env', 'staging'])).code).toBe(0);
    const env = await exported(project);
    expect(env.JWT_SIGNING_KEY_KID).toMatch(/^[0-9a-f-]{36}\.EdDSA\.jwk\.[A-Za-z0-9_-]{16}$/);
    const keys = keyring(fromEnv({ env }), { secret: 'JWT_SIGNING_KEY', clock: project.clock });
    await keys.ready();
    const token = keys.sign({ sub: 'user-1' });
    expect(keys.verify(token)).toMatchObject({
      kid: (await versionIds(project, 'JWT_SIGNING_KEY')).current,
      header: { alg: 'EdDSA' },
    });
  });

  it('an app started by `rotor run` verifies a token signed before the rotation (built CLI and SDK, real processes)', async () => {
    const project = await createProject();
    const dir = project.dir;
    expect((await rotorProcess(dir, ['rotate', NAME, '--env', 'staging'])).code).toBe(0);
    const app = (script: string, env: NodeJS.ProcessEnv = {}) =>
      rotorProcess(
        dir,
        [
          'run',
          '--env',
          'staging',
          '--',
          process.execPath,
          '--input-type=module',
          '-e',
          `const { createJwtKeys, fromEnv } = await import(${JSON.stringify(SDK)});
const keys = createJwtKeys({ secret: ${JSON.stringify(NAME)}, source: fromEnv(), issuer: ${JSON.stringify(ISSUER)}, audience: ${JSON.stringify(AUDIENCE)}, type: 'at+jwt', maxAge: '15m' });
await keys.ready();
${script}`,
        ],
        env,
      );
    const signed = await app(`process.stdout.write(keys.sign({ sub: 'user-1' }));`);
    expect(signed.code, signed.stderr).toBe(0);
    const t1 = signed.stdout;
    expect((await rotorProcess(dir, ['rotate', NAME, '--env', 'staging'])).code).toBe(0);
    // TOKEN is not a secret: it is handed to the app like a request would be.
    const checked = await app(
      `const r = keys.verify(process.env.TOKEN); process.stdout.write(JSON.stringify({ stage: r.stage, kid: r.kid, current: keys.currentKid }));`,
      { TOKEN: t1 },
    );
    expect(checked.code, checked.stderr).toBe(0);
    const ids = await versionIds(project);
    expect(JSON.parse(checked.stdout)).toEqual({
      stage: 'previous',
      kid: ids.previous,
      current: ids.current,
    });
  });
});

describe('fromStore', () => {
  it('reads the store read-only: current, previous in grace, retired and compromised kids', async () => {
    const project = await createProject();
    const dbFile = join(project.dir, '.rotor', 'rotor.db');
    for (let i = 0; i < 3; i++) {
      project.clock.advance(60_000);
      expect((await project.cli(['rotate', NAME, '--env', 'staging'])).code).toBe(0);
    }
    const digest = () => createHash('sha256').update(readFileSync(dbFile)).digest('hex');
    const before = digest();
    chmodSync(dbFile, 0o400); // nothing may need to write the database file
    const source = fromStore({ dir: project.dir, environment: 'staging', pollMs: 20 });
    try {
      const set = await source.load(NAME);
      const ids = await versionIds(project);
      expect(set.versions.map((v) => [v.kid, v.stage, v.alg])).toEqual([
        [ids.previous, 'previous', 'HS256'],
        [ids.current, 'current', 'HS256'],
      ]);
      expect(set.versions[0]!.acceptUntil).toBe(project.clock.now() + HOUR);
      expect(set.versions[1]!.signingKey?.type).toBe('secret');
      expect(set.versions[0]!.signingKey).toBeUndefined();
      expect([...set.retired.values()]).toEqual(['retired']);
      expect(set.onRotate).toBe('dual-validate');
      await new Promise((r) => setTimeout(r, 100));
      expect(digest()).toBe(before);
    } finally {
      chmodSync(dbFile, 0o600);
      await source.close();
    }
  });

  it('keeps verifying while `rotor rotate` runs in another process, signs with the new key without restart, and refuses old tokens after an emergency rotation, all by its store poll', async () => {
    const project = await createProject();
    const dir = project.dir;
    const first = await rotorProcess(dir, ['rotate', NAME, '--env', 'staging']);
    expect(first.code, first.stderr).toBe(0);
    const source = fromStore({ dir, environment: 'staging' }); // default pollMs: 500
    const keys = keyring(source);
    await keys.ready();
    const v1 = keys.currentKid!;
    const t1 = keys.sign({ sub: 'user-1' });
    let verified = 0;
    const failures: string[] = [];
    const verifying = setInterval(() => {
      for (let i = 0; i < 20; i++) {
        try {
          keys.verify(t1);
          verified++;
        } catch (error) {
          failures.push((error as RotorError).code);
        }
      }
    }, 1);
    try {
      const rotated = await rotorProcess(dir, ['rotate', NAME, '--env', 'staging']);
      expect(rotated.code, rotated.stderr).toBe(0);
      await until(() => keys.currentKid !== v1, 30_000);
    } finally {
      clearInterval(verifying);
    }
    expect(failures).toEqual([]);
    expect(verified).toBeGreaterThan(100);
    const v2 = keys.currentKid!;
    const t2 = keys.sign({ sub: 'user-1' });
    expect(kidOf(t2)).toBe(v2);
    expect(keys.verify(t1)).toMatchObject({ kid: v1, stage: 'previous' });

    const emergency = await rotorProcess(dir, [
      'rotate',
      NAME,
      '--env',
      'staging',
      '--emergency',
      '--reason',
      'key in a support ticket',
    ]);
    expect(emergency.code, emergency.stderr).toBe(0);
    await until(() => {
      try {
        keys.verify(t2);
        return false;
      } catch (error) {
        return (error as RotorError).code === 'ERR_ROTOR_JWT_KID_COMPROMISED';
      }
    }, 30_000);
    // The same keyring, no restart: its store poll brought the compromise in (no timing here).
    expectRejection(() => keys.verify(t1), 'ERR_ROTOR_JWT_KID_RETIRED');
    const t3 = keys.sign({ sub: 'user-1' });
    expect(keys.verify(t3)).toMatchObject({ stage: 'current' });
    expect(kidOf(t3)).not.toBe(v2);
    await keys.close();
    await source.close();
  });

  it('serves jwt-keypair versions (private JWK) with standby keys published, and takes on-rotate from the applied spec', async () => {
    const project = await createProject();
    const rotor = project.rotor();
    const now = project.clock.now();
    const ids = { current: randomUUID(), standby: randomUUID(), previous: randomUUID() };
    const privateKeys = {
      current: generateKeyPairSync('ed25519').privateKey,
      standby: generateKeyPairSync('ed25519').privateKey,
      previous: generateKeyPairSync('ed25519').privateKey,
    };
    const jwkValue = (stage: keyof typeof ids) =>
      JSON.stringify({
        ...privateKeys[stage].export({ format: 'jwk' }),
        alg: 'EdDSA',
        kid: ids[stage],
      });
    try {
      const store = await rotor.store();
      const master = await rotor.masterKey();
      await store.writeTransaction(async (trx) => {
        await trx
          .insertInto('secrets')
          .values({
            name: 'JWT_SIGNING_KEY',
            kind: 'jwt-keypair',
            spec: JSON.stringify({
              name: 'JWT_SIGNING_KEY',
              kind: 'jwt-keypair',
              config: { algorithm: 'EdDSA' },
            }),
            applied_at: now,
          })
          .execute();
        for (const [stage, id] of Object.entries(ids) as Array<[keyof typeof ids, string]>) {
          await insertVersion(trx, master, {
            id,
            secret: 'JWT_SIGNING_KEY',
            environment: 'staging',
            stage: stage === 'standby' ? 'pending' : stage,
            origin: 'generated',
            value: jwkValue(stage),
            meta: { kid: id, alg: 'EdDSA', crv: 'Ed25519' },
            now,
            rotatedAt: now,
            rotationId: null,
          });
        }
        await sql`UPDATE versions SET stage = 'standby' WHERE id = ${ids.standby}`.execute(trx);
        await trx
          .updateTable('versions')
          .set({ retire_at: now + HOUR })
          .where('id', '=', ids.previous)
          .execute();
      });
    } finally {
      await rotor.close();
    }
    const source = fromStore({ dir: project.dir, environment: 'staging', pollMs: 20 });
    const keys = keyring(source, { secret: 'JWT_SIGNING_KEY', clock: project.clock });
    try {
      await keys.ready();
      expect(keys.currentKid).toBe(ids.current);
      const token = keys.sign({ sub: 'user-1' });
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({
        alg: 'EdDSA',
        kid: ids.current,
      });
      expect(keys.verify(token).stage).toBe('current');
      const set = await source.load('JWT_SIGNING_KEY');
      expect(set.versions.map((v) => v.stage).sort()).toEqual(['current', 'previous', 'standby']);
      expect(set.versions.find((v) => v.stage === 'standby')!.signingKey).toBeUndefined();
      expect(set.versions.find((v) => v.stage === 'standby')!.verifyKey.type).toBe('public');

      const previousToken = forge(
        { alg: 'EdDSA', kid: ids.previous, typ: 'at+jwt' },
        goodClaims(),
        ed(privateKeys.previous),
      );
      const standbyToken = forge(
        { alg: 'EdDSA', kid: ids.standby, typ: 'at+jwt' },
        goodClaims(),
        ed(privateKeys.standby),
      );
      expect(keys.verify(previousToken).stage).toBe('previous');
      expect(keys.verify(standbyToken).stage).toBe('standby');

      // The spec now says invalidate: the keyring notices the store change and refuses the previous key.
      const writer = project.rotor();
      try {
        const store = await writer.store();
        await store.db
          .updateTable('secrets')
          .set({
            spec: JSON.stringify({
              name: 'JWT_SIGNING_KEY',
              kind: 'jwt-keypair',
              config: { algorithm: 'EdDSA', onRotate: 'invalidate' },
            }),
          })
          .where('name', '=', 'JWT_SIGNING_KEY')
          .execute();
      } finally {
        await writer.close();
      }
      await until(() => {
        try {
          keys.verify(previousToken);
          return false;
        } catch (error) {
          return (error as RotorError).code === 'ERR_ROTOR_JWT_KID_RETIRED';
        }
      }, 2000);
      expect((await source.load('JWT_SIGNING_KEY')).onRotate).toBe('invalidate');
    } finally {
      await keys.close();
      await source.close();
    }
  });

  it('follows a master-key rotation (the key file is read again when the store check changes)', async () => {
    const project = await createProject();
    await project.cli(['rotate', NAME, '--env', 'staging']);
    const source = fromStore({ dir: project.dir, environment: 'staging' });
    try {
      const before = await source.load(NAME);
      expect((await project.cli(['master-key', 'rotate'])).code).toBe(0);
      const after = await source.load(NAME);
      expect(after.versions.map((v) => v.kid)).toEqual(before.versions.map((v) => v.kid));
    } finally {
      await source.close();
    }
  });

  it('refuses a wrong master key, secrets of other kinds, unknown secrets and environments, and a missing store', async () => {
    const project = await createProject();
    await project.cli(['rotate', NAME, '--env', 'staging']);
    const wrong = fromStore({
      dir: project.dir,
      environment: 'staging',
      masterKey: generateMasterKey().export(),
    });
    await expect(wrong.load(NAME)).rejects.toMatchObject({
      code: 'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
    });
    await wrong.close();
    const source = fromStore({
      dir: project.dir,
      environment: 'staging',
      env: {
        ROTOR_MASTER_KEY: readFileSync(join(project.dir, '.rotor', 'master.key'), 'utf8').trim(),
      },
    });
    expect((await source.load(NAME)).versions).toHaveLength(1);
    await expect(source.load('METRICS_AUTH_TOKEN')).rejects.toMatchObject({
      code: 'ERR_ROTOR_JWT_SOURCE_UNSUPPORTED_KIND',
      message: expect.stringMatching(/random secret/),
    });
    await expect(source.load('NOPE')).rejects.toMatchObject({ code: 'ERR_ROTOR_SECRET_UNKNOWN' });
    await source.close();
    const qa = fromStore({ dir: project.dir, environment: 'qa' });
    await expect(qa.load(NAME)).rejects.toMatchObject({ code: 'ERR_ROTOR_ENV_UNKNOWN' });
    await qa.close();
    expect(existsSync(join(project.dir, 'elsewhere'))).toBe(false);
    const missing = fromStore({ dir: join(project.dir, 'elsewhere'), environment: 'staging' });
    await expect(missing.load(NAME)).rejects.toMatchObject({
      code: 'ERR_ROTOR_STORE_NOT_INITIALIZED',
    });
    expect(() => fromStore({ dir: project.dir } as never)).toThrow(/environment/);
  });
});
