import { describe, expect, it } from 'vitest';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { defineRotator, type AnyRotator } from '../src/core/rotator/rotator-contract.js';
import { openVersion } from '../src/core/vault/versions.js';
import { acquireLock, lockName } from '../src/core/rotation/lock.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { applyPolicy } from '../src/core/apply/apply-policy.js';
import { sql } from 'kysely';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000001',
  method: 'manual',
};

async function versions(p: TestProject, secret: string, env: string) {
  const rotor = p.rotor();
  const store = await rotor.store();
  const rows = await store.db
    .selectFrom('versions')
    .selectAll()
    .where('secret', '=', secret)
    .where('environment', '=', env)
    .orderBy(sql`rowid`)
    .execute();
  await rotor.close();
  return rows;
}

async function auditActions(
  p: TestProject,
): Promise<{ action: string; method: string; outcome: string; notes: string }[]> {
  const rotor = p.rotor();
  const store = await rotor.store();
  const rows = await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute();
  await rotor.close();
  return rows.map((r) => JSON.parse(r.entry));
}

describe('rotation engine', () => {
  it('makes the first jwt-hmac version current with a kid and at least 32 random bytes', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const result = await createRotationEngine({ rotor }).rotate(actor, {
      secret: 'JWT_ACCESS_SECRET',
      environments: ['staging'],
      method: 'manual',
    });
    expect(result.ok).toBe(true);
    const store = await rotor.store();
    const current = await store.db
      .selectFrom('versions')
      .selectAll()
      .where('stage', '=', 'current')
      .executeTakeFirstOrThrow();
    const value = openVersion(await rotor.masterKey(), current);
    expect(Buffer.from(value, 'base64').length).toBeGreaterThanOrEqual(32);
    expect(JSON.parse(current.meta)).toMatchObject({ kid: current.id, alg: 'HS256' });
    expect(current.rotated_at).toBe(p.clock.now());
    await rotor.close();
  });

  it('keeps the previous version through its grace window and retires it afterwards', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const engine = createRotationEngine({ rotor });
    await engine.rotate(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      environments: ['production'],
      method: 'manual',
    });
    p.clock.advance(10 * DAY);
    const second = await engine.rotate(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      environments: ['production'],
      method: 'manual',
    });
    const [first, current] = await versions(p, 'METRICS_AUTH_TOKEN', 'production');
    expect(first!.stage).toBe('previous');
    expect(first!.retire_at).toBe(p.clock.now() + DAY);
    expect(current!.stage).toBe('current');
    expect(second.results[0]!.graceUntil).toBe(new Date(p.clock.now() + DAY).toISOString());

    expect(await engine.retire(actor, {})).toEqual([]);
    p.clock.advance(DAY);
    const retired = await engine.retire(actor, {});
    expect(retired).toEqual([
      {
        secret: 'METRICS_AUTH_TOKEN',
        environment: 'production',
        versionId: first!.id,
        early: false,
      },
    ]);
    const after = await versions(p, 'METRICS_AUTH_TOKEN', 'production');
    expect(after[0]).toMatchObject({ stage: 'retired', ciphertext: null, wrapped_key: null });
    expect(after[0]!.retired_at).toBe(p.clock.now());
    await rotor.close();
  });

  it('keeps at most two live versions: a third rotation retires the oldest', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const engine = createRotationEngine({ rotor });
    for (let i = 0; i < 3; i++)
      await engine.rotate(actor, {
        secret: 'METRICS_AUTH_TOKEN',
        environments: ['staging'],
        method: 'manual',
      });
    const stages = (await versions(p, 'METRICS_AUTH_TOKEN', 'staging')).map((v) => v.stage);
    expect(stages).toEqual(['retired', 'previous', 'current']);
    await rotor.close();
  });

  it('refuses to retire inside the grace window without a reason, and records the reason', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const engine = createRotationEngine({ rotor });
    await engine.rotate(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      environments: ['staging'],
      method: 'manual',
    });
    await engine.rotate(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      environments: ['staging'],
      method: 'manual',
    });
    await expect(
      engine.retire(actor, { secret: 'METRICS_AUTH_TOKEN', now: true }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_RETIRE_REASON_REQUIRED' });
    const retired = await engine.retire(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      now: true,
      reason: 'laptop lost',
    });
    expect(retired).toHaveLength(1);
    expect(retired[0]!.early).toBe(true);
    const audit = await auditActions(p);
    expect(audit.at(-1)).toMatchObject({ action: 'retire', outcome: 'success' });
    expect(audit.at(-1)!.notes).toContain('laptop lost');
    await rotor.close();
  });

  it('rotates environments in policy order and stops before production when staging fails', async () => {
    let calls: string[] = [];
    const flaky = defineRotator({
      kind: 'flaky',
      summary: 'fails verify in staging',
      source: 'generated',
      configSchema: z.strictObject({}).default({}),
      async create(ctx) {
        calls.push(`create:${ctx.environment}`);
        return { value: 'x'.repeat(40), meta: {} };
      },
      async apply(ctx) {
        calls.push(`apply:${ctx.environment}`);
      },
      async verify(ctx) {
        calls.push(`verify:${ctx.environment}`);
        if (ctx.environment === 'staging') throw new Error('target refused the new credential');
      },
      async retire(ctx, old) {
        calls.push(
          `retire:${ctx.environment}:${old.versionId === ctx.versionId ? 'pending' : 'old'}`,
        );
      },
    });
    const rotators: AnyRotator[] = [...ROTATORS, flaky];
    const p = await createProject();
    p.writePolicy(
      'version: 1\nenvironments: [staging, production]\nsecrets:\n  FLAKY_TOKEN: { kind: flaky, cadence: 30d }\n',
    );
    const rotor = p.rotor(rotators);
    await applyPolicy(rotor, actor);
    calls = [];
    const result = await createRotationEngine({ rotor }).rotate(actor, {
      secret: 'FLAKY_TOKEN',
      method: 'manual',
    });
    expect(result.ok).toBe(false);
    expect(result.results.map((r) => [r.environment, r.outcome])).toEqual([
      ['staging', 'failed'],
      ['production', 'skipped'],
    ]);
    expect(calls).toEqual([
      'create:staging',
      'apply:staging',
      'verify:staging',
      'retire:staging:pending',
    ]);
    const rows = await versions(p, 'FLAKY_TOKEN', 'staging');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ stage: 'failed', ciphertext: null });
    const store = await rotor.store();
    const rotation = await store.db.selectFrom('rotations').selectAll().executeTakeFirstOrThrow();
    expect(rotation).toMatchObject({ state: 'failed', error_code: 'ERR_ROTOR_ROTATION_FAILED' });
    expect(rotation.error_message).toContain('target refused');
    expect(
      (await auditActions(p)).some((e) => e.action === 'rotate.failure' && e.outcome === 'failure'),
    ).toBe(true);
    await rotor.close();
  });

  it('leaves the current version untouched when verify fails', async () => {
    const broken = defineRotator({
      ...ROTATORS.find((r) => r.kind === 'random')!,
      kind: 'broken-random',
      async verify() {
        throw new Error('nope');
      },
    });
    const p = await createProject({
      policy:
        'version: 1\nenvironments: [production]\nsecrets:\n  TOKEN: { kind: broken-random, cadence: 30d }\n',
    }).catch(() => undefined);
    expect(p).toBeUndefined(); // the default registry does not know the kind: apply refuses it
    const q = await createProject();
    const rotor = q.rotor();
    const engine = createRotationEngine({ rotor });
    await engine.rotate(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      environments: ['production'],
      method: 'manual',
    });
    const before = await versions(q, 'METRICS_AUTH_TOKEN', 'production');
    const brokenRotor = q.rotor([
      ...ROTATORS.filter((r) => r.kind !== 'random'),
      { ...broken, kind: 'random' },
    ]);
    const result = await createRotationEngine({ rotor: brokenRotor }).rotate(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      environments: ['production'],
      method: 'manual',
    });
    expect(result.ok).toBe(false);
    const after = await versions(q, 'METRICS_AUTH_TOKEN', 'production');
    expect(after[0]).toEqual(before[0]);
    expect(after[1]!.stage).toBe('failed');
    await rotor.close();
    await brokenRotor.close();
  });

  it('emergency rotation revokes the previous version at once and says so in the audit log', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const engine = createRotationEngine({ rotor });
    await engine.rotate(actor, {
      secret: 'JWT_REFRESH_SECRET',
      environments: ['production'],
      method: 'manual',
    });
    const [old] = await versions(p, 'JWT_REFRESH_SECRET', 'production');
    const oldKey = Buffer.from(openVersion(await rotor.masterKey(), old!), 'base64');
    const token = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256', kid: old!.id })
      .setExpirationTime('1h')
      .sign(oldKey);
    await expect(jwtVerify(token, oldKey)).resolves.toMatchObject({
      payload: { sub: 'u1' },
      protectedHeader: { alg: 'HS256', kid: old!.id },
    });

    await expect(
      engine.rotate(actor, {
        secret: 'JWT_REFRESH_SECRET',
        environments: ['production'],
        method: 'manual',
        emergency: true,
      }),
    ).rejects.toMatchObject({
      code: 'ERR_ROTOR_EMERGENCY_REASON_REQUIRED',
    });
    const result = await engine.rotate(actor, {
      secret: 'JWT_REFRESH_SECRET',
      environments: ['production'],
      method: 'manual',
      emergency: true,
      reason: 'key leaked in a log',
    });
    expect(result).toMatchObject({ ok: true, method: 'emergency' });
    expect(result.results[0]!.retiredVersionIds).toEqual([old!.id]);
    const rows = await versions(p, 'JWT_REFRESH_SECRET', 'production');
    expect(rows[0]).toMatchObject({ stage: 'retired', compromised: 1, ciphertext: null });
    expect(rows[1]!.stage).toBe('current');
    // The old key can no longer be obtained from Rotor, so no consumer can validate with it.
    const store = await rotor.store();
    const live = await store.db
      .selectFrom('versions')
      .select('id')
      .where('secret', '=', 'JWT_REFRESH_SECRET')
      .where('stage', 'in', ['current', 'previous'])
      .execute();
    expect(live.map((v) => v.id)).toEqual([rows[1]!.id]);
    const audit = await auditActions(p);
    const emergency = audit.find((e) => e.action === 'rotate.emergency')!;
    expect(emergency).toMatchObject({ method: 'emergency', outcome: 'success' });
    expect(emergency.notes).toContain('key leaked in a log');
    expect(emergency.notes).toContain('no longer validate');
    expect(audit.find((e) => e.action === 'retire')!.notes).toContain('compromised');
    await rotor.close();
  });

  it('refuses a second rotation of the same secret and environment while one holds the lock', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const store = await rotor.store();
    const lock = await acquireLock(store, rotor.clock, lockName('METRICS_AUTH_TOKEN', 'staging'));
    await expect(
      createRotationEngine({ rotor }).rotate(actor, {
        secret: 'METRICS_AUTH_TOKEN',
        environments: ['staging'],
        method: 'manual',
      }),
    ).rejects.toMatchObject({
      code: 'ERR_ROTOR_LOCK_HELD',
    });
    await lock.release();
    expect(await versions(p, 'METRICS_AUTH_TOKEN', 'staging')).toEqual([]);
    await rotor.close();
  });

  it('rejects unknown secrets, unknown environments and the master key with clear codes', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const engine = createRotationEngine({ rotor });
    await expect(engine.rotate(actor, { secret: 'NOPE', method: 'manual' })).rejects.toMatchObject({
      code: 'ERR_ROTOR_SECRET_UNKNOWN',
    });
    await expect(
      engine.rotate(actor, {
        secret: 'JWT_ACCESS_SECRET',
        environments: ['prod'],
        method: 'manual',
      }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_ENV_UNKNOWN' });
    await expect(
      engine.rotate(actor, { secret: 'ROTOR_MASTER_KEY', method: 'manual' }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_ROTATION_NOT_SUPPORTED' });
    await expect(
      engine.rotate(actor, {
        secret: 'SMTP_PASSWORD',
        environments: ['staging'],
        method: 'manual',
      }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_VALUE_MISSING' });
    await expect(
      engine.rotate(actor, {
        secret: 'SMTP_PASSWORD',
        environments: ['staging'],
        method: 'manual',
        input: 'short',
      }),
    ).rejects.toMatchObject({ code: 'ERR_ROTOR_VALUE_INVALID' });
    const store = await rotor.store();
    expect(await store.db.selectFrom('rotations').selectAll().execute()).toEqual([]);
    expect(await store.db.selectFrom('versions').selectAll().execute()).toEqual([]);
    await rotor.close();
  });

  it('records a manual rotation like any other, with the value only in sealed form', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const result = await createRotationEngine({ rotor }).rotate(actor, {
      secret: 'SMTP_PASSWORD',
      environments: ['production'],
      method: 'manual',
      input: 'n3w-smtp-pa55word!',
    });
    expect(result.ok).toBe(true);
    const [row] = await versions(p, 'SMTP_PASSWORD', 'production');
    expect(row).toMatchObject({ stage: 'current', origin: 'manual' });
    expect(openVersion(await rotor.masterKey(), row!)).toBe('n3w-smtp-pa55word!');
    expect(row!.ciphertext!.toString('latin1')).not.toContain('n3w-smtp');
    await rotor.close();
  });
});

describe('rotor rotate (CLI)', () => {
  it('shows each step as it runs on a terminal and prints no colour codes when NO_COLOR is set', async () => {
    const p = await createProject();
    const result = await p.cli(['rotate', 'JWT_ACCESS_SECRET'], { tty: true });
    expect(result.code, result.stderr).toBe(0);
    const steps = result.stdout
      .split('\n')
      .filter((l) => l.includes('✓'))
      .map((l) => l.trim().split(/\s+/).slice(1, 3).join(' '));
    expect(steps).toEqual([
      'staging create',
      'staging apply',
      'staging verify',
      'staging promote',
      'production create',
      'production apply',
      'production verify',
      'production promote',
    ]);
    // eslint-disable-next-line no-control-regex
    expect(result.stdout).not.toMatch(/\x1b\[/);
  });

  it('--json prints one machine-readable result and no step lines', async () => {
    const p = await createProject();
    const result = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--json'], { tty: true });
    const parsed = JSON.parse(result.stdout);
    expect(parsed).toMatchObject({
      secret: 'METRICS_AUTH_TOKEN',
      ok: true,
      method: 'manual',
      emergency: false,
    });
    expect(
      parsed.results.map((r: { environment: string; outcome: string }) => [
        r.environment,
        r.outcome,
      ]),
    ).toEqual([
      ['staging', 'succeeded'],
      ['production', 'succeeded'],
    ]);
    expect(parsed.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('records every row of an emergency rotation with method emergency, the operator and the request id', async () => {
    const p = await createProject();
    await p.cli(['rotate', 'JWT_REFRESH_SECRET', '--env', 'production']);
    const result = await p.cli([
      'rotate',
      'JWT_REFRESH_SECRET',
      '--env',
      'production',
      '--emergency',
      '--reason',
      'leak',
      '--operator',
      'bob',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const { requestId } = JSON.parse(result.stdout);
    const rows = (await auditActions(p)) as unknown as {
      action: string;
      method: string;
      operator: string;
      requestId: string;
    }[];
    const mine = rows.filter((r) => r.requestId === requestId);
    expect(mine.map((r) => r.action)).toEqual([
      'rotate.start',
      'rotate.create',
      'rotate.apply',
      'rotate.verify',
      'rotate.promote',
      'retire',
      'rotate.emergency',
    ]);
    expect(new Set(mine.map((r) => r.method))).toEqual(new Set(['emergency']));
    expect(new Set(mine.map((r) => r.operator))).toEqual(new Set(['bob']));
  });

  it('a manual secret with a value per environment needs --env when the value is piped', async () => {
    const p = await createProject();
    const result = await p.cli(['rotate', 'SMTP_PASSWORD'], { stdin: 'a-long-enough-value\n' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pass --env');
    const ok = await p.cli(['rotate', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: 'a-long-enough-value\n',
    });
    expect(ok.code, ok.stderr).toBe(0);
  });
});
