import {
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotateMasterKey } from '../src/core/master-key/rotate-master-key.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion } from '../src/core/vault/versions.js';
import type { Actor } from '../src/core/audit/audit-log.js';
import { generateMasterKey } from '../src/core/crypto/envelope.js';
import { createProject, type TestProject } from './helpers/project.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000003',
  method: 'manual',
};

async function liveValues(p: TestProject, env: NodeJS.ProcessEnv = p.env): Promise<string[]> {
  const { createRotor } = await import('../src/core/context.js');
  const { ROTATORS } = await import('../src/rotators/registry.js');
  const rotor = createRotor({ cwd: p.dir, env, rotators: ROTATORS, clock: p.clock });
  try {
    const store = await rotor.store();
    const master = await rotor.masterKey();
    const rows = await store.db
      .selectFrom('versions')
      .selectAll()
      .where('stage', 'in', ['current', 'previous'])
      .orderBy('id')
      .execute();
    return rows.map((r) => openVersion(master, r));
  } finally {
    await rotor.close();
  }
}

async function seed(p: TestProject): Promise<string[]> {
  const rotor = p.rotor();
  const engine = createRotationEngine({ rotor });
  await engine.rotate(actor, { secret: 'JWT_ACCESS_SECRET', method: 'manual' });
  await engine.rotate(actor, { secret: 'JWT_ACCESS_SECRET', method: 'manual' });
  await engine.rotate(actor, { secret: 'METRICS_AUTH_TOKEN', method: 'manual' });
  await rotor.close();
  return liveValues(p);
}

describe('master key', () => {
  it('init writes the key file with mode 0600 and the store owner-only', async () => {
    const p = await createProject();
    expect(statSync(join(p.dir, '.rotor/master.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(p.dir, '.rotor/rotor.db')).mode & 0o077).toBe(0);
  });

  it('rotation re-wraps every data key: values unchanged, the old key no longer opens the store', async () => {
    const p = await createProject();
    const values = await seed(p);
    const oldKey = readFileSync(join(p.dir, '.rotor/master.key'), 'utf8');
    const result = await p.cli(['master-key', 'rotate', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.rewrapped).toBe(values.length);
    expect(out.newKeyId).not.toBe(out.oldKeyId);
    expect(readFileSync(join(p.dir, '.rotor/master.key'), 'utf8')).not.toBe(oldKey);
    expect(statSync(join(p.dir, '.rotor/master.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(p.dir, '.rotor/master.key.next'))).toBe(false);
    expect(await liveValues(p)).toEqual(values);
    await expect(
      liveValues(p, { ...p.env, ROTOR_MASTER_KEY: oldKey.trim() }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY' });
    const audit = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging']);
    expect(audit.code, audit.stderr).toBe(0);
  });

  it('a crash before the store commit leaves the old key in force and removes the stray new key', async () => {
    const p = await createProject();
    const values = await seed(p);
    const rotor = p.rotor();
    await expect(
      rotateMasterKey(rotor, actor, {
        afterWrite: () => {
          throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    await rotor.close();
    expect(existsSync(join(p.dir, '.rotor/master.key.next'))).toBe(true);
    expect(await liveValues(p)).toEqual(values);
    expect(existsSync(join(p.dir, '.rotor/master.key.next'))).toBe(false);
  });

  it('a crash after the store commit but before the rename is finished on the next start', async () => {
    const p = await createProject();
    const values = await seed(p);
    const keyPath = join(p.dir, '.rotor/master.key');
    copyFileSync(keyPath, join(p.dir, 'old.key'));
    const rotor = p.rotor();
    await rotateMasterKey(rotor, actor);
    await rotor.close();
    // Reconstruct the state a crash between commit and rename leaves behind.
    renameSync(keyPath, join(p.dir, '.rotor/master.key.next'));
    copyFileSync(join(p.dir, 'old.key'), keyPath);
    expect(await liveValues(p)).toEqual(values);
    expect(existsSync(join(p.dir, '.rotor/master.key.next'))).toBe(false);
    expect(readFileSync(keyPath, 'utf8')).not.toBe(readFileSync(join(p.dir, 'old.key'), 'utf8'));
  });

  it('with ROTOR_MASTER_KEY it needs --new-key-file and never overwrites an existing file', async () => {
    const p = await createProject();
    const key = readFileSync(join(p.dir, '.rotor/master.key'), 'utf8').trim();
    const env = { ROTOR_MASTER_KEY: key };
    const noFile = await p.cli(['master-key', 'rotate'], { env });
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain('--new-key-file');
    writeFileSync(join(p.dir, 'exists.key'), 'x');
    const exists = await p.cli(
      ['master-key', 'rotate', '--new-key-file', join(p.dir, 'exists.key')],
      { env },
    );
    expect(exists.code).toBe(1);
    expect(readFileSync(join(p.dir, 'exists.key'), 'utf8')).toBe('x');
    const ok = await p.cli(['master-key', 'rotate', '--new-key-file', join(p.dir, 'new.key')], {
      env,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).not.toContain(readFileSync(join(p.dir, 'new.key'), 'utf8').trim());
    const next = readFileSync(join(p.dir, 'new.key'), 'utf8').trim();
    expect(
      (
        await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'], {
          env: { ROTOR_MASTER_KEY: next },
        })
      ).code,
    ).toBe(0);
  });

  it('a wrong, malformed or world-readable master key is refused with a clear error', async () => {
    const p = await createProject();
    await seed(p);
    const wrong = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'], {
      env: { ROTOR_MASTER_KEY: generateMasterKey().export() },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY');
    const malformed = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'], {
      env: { ROTOR_MASTER_KEY: 'not-a-key' },
    });
    expect(malformed.stderr).toContain('ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID');
    expect(malformed.stderr).not.toContain('not-a-key');
    const { chmodSync } = await import('node:fs');
    chmodSync(join(p.dir, '.rotor/master.key'), 0o644);
    const open = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging']);
    expect(open.code).toBe(1);
    expect(open.stderr).toContain('chmod 600');
  });
});

describe('master key rotation and operators', () => {
  it('operators still sign in with their TOTP after `rotor master-key rotate` (their sealed TOTP secrets are re-wrapped)', async () => {
    const { authenticateOperator } = await import('../src/core/operators/authenticate-operator.js');
    const { base32Decode, totpCode } = await import('../src/core/operators/totp.js');
    const p = await createProject();
    const password = 'a long enough operator password';
    const added = await p.cli(['operator', 'add', 'carol'], { stdin: `${password}\n` });
    expect(added.code, added.stderr).toBe(0);
    const secret = base32Decode(/secret=([A-Z2-7]+)/.exec(added.stdout)![1]!);
    const rotated = await p.cli(['master-key', 'rotate']);
    expect(rotated.code, rotated.stderr).toBe(0);
    p.clock.advance(60_000);
    const rotor = p.rotor();
    try {
      const name = await authenticateOperator(rotor, {
        name: 'carol',
        password,
        code: totpCode(secret, p.clock.now()),
        requestId: '00000000-0000-4000-8000-0000000000c1',
      });
      expect(name).toBe('carol');
    } finally {
      await rotor.close();
    }
  });
});

describe('master key rotation under a running server', () => {
  it('a long-running Rotor (rotor serve, the scheduler) picks up the new key from .rotor/master.key: reads and rotations go on without a restart', async () => {
    const { buildApp } = await import('../src/server/app.js');
    const { createApiToken } = await import('../src/core/tokens/create-token.js');
    const p = await createProject();
    expect((await p.cli(['rotate', 'JWT_ACCESS_SECRET', '--env', 'production'])).code).toBe(0);
    const rotor = p.rotor();
    const engine = createRotationEngine({ rotor });
    const app = await buildApp({ rotor, engine, requestLogging: false });
    try {
      const { token } = await createApiToken(await rotor.store(), p.clock, actor, {
        name: 'app',
        role: 'app',
        secrets: ['JWT_*'],
        environments: ['production'],
      });
      const read = () =>
        app.inject({
          method: 'GET',
          url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production',
          headers: { authorization: `Bearer ${token}` },
        });
      const before = await read();
      expect(before.statusCode, before.body).toBe(200);
      // Another process rotates the master key.
      expect((await p.cli(['master-key', 'rotate'])).code).toBe(0);
      const after = await read();
      expect(after.statusCode, after.body).toBe(200);
      expect(after.json().value).toBe(before.json().value);
      const rotated = await engine.rotate(actor, {
        secret: 'JWT_ACCESS_SECRET',
        environments: ['production'],
        method: 'manual',
      });
      expect(rotated.ok, JSON.stringify(rotated.results)).toBe(true);
      const next = await read();
      expect(next.statusCode).toBe(200);
      expect(next.json().value).not.toBe(before.json().value);
    } finally {
      await app.close();
      await rotor.close();
    }
  });
});
