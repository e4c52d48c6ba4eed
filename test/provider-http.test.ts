// The `http` rotator end to end through the engine, against a local fake of the contract's two
// sides (test/fakes/webhook-endpoint-fake.ts): a tiny provider with API keys and the reference
// rotation endpoint in front of it, which checks Rotor's signatures and idempotency keys.
import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion, parseMeta } from '../src/core/vault/versions.js';
import { httpWebhookRotator } from '../src/rotators/http-webhook.js';
import { FakeWebhookEndpoint } from './fakes/webhook-endpoint-fake.js';
import { auditEntries } from './helpers/audit-entries.js';
import { loggedRotor } from './helpers/logged-rotor.js';
import { createProject } from './helpers/project.js';
import { crashRotationAt, expectNoValues } from './helpers/provider-crash.js';

const KEY = 'test-signing-key-0123456789abcdef';
const fake = new FakeWebhookEndpoint(KEY);
let base = '';
beforeAll(async () => {
  base = await fake.start();
});
afterAll(() => fake.stop());

const actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-0000000000d8',
  method: 'manual' as const,
};
const HOUR = 3_600_000;
const NAME = 'ACME_API_KEY';

async function whoami(value: string): Promise<number> {
  const response = await fetch(`${base}/provider/whoami`, {
    headers: { authorization: `Bearer ${value}` },
  });
  await response.text();
  return response.status;
}

async function fixture(extra = '') {
  const p = await createProject({
    policy: `version: 1
environments: [production]
secrets:
  ${NAME}:
    kind: http
    cadence: 90d
    grace: 1h
    config:
      provider: Acme
      url: "${base}/rotate"
      key: { env: ACME_ROTOR_KEY }
      attempts: 3
      propagation: { attempts: 2, delayMs: 5 }
${extra}`,
  });
  p.env.ACME_ROTOR_KEY = KEY;
  const { rotor, logs } = loggedRotor(p);
  const engine = createRotationEngine({ rotor });
  const rows = async () =>
    (await rotor.store()).db
      .selectFrom('versions')
      .selectAll()
      .where('secret', '=', NAME)
      .orderBy(sql`rowid`)
      .execute();
  return {
    p,
    logs,
    rotate: (o: { emergency?: boolean } = {}) =>
      engine.rotate(actor, {
        secret: NAME,
        method: o.emergency ? 'emergency' : 'manual',
        ...(o.emergency ? { emergency: true, reason: 'key in a public gist' } : {}),
      }),
    retire: () => engine.retire(actor, { secret: NAME }),
    async value(stage: 'current' | 'previous') {
      const row = (await rows()).find((r) => r.stage === stage);
      return row ? openVersion(await rotor.masterKey(), row) : undefined;
    },
    async meta(stage: 'current' | 'previous') {
      const row = (await rows()).find((r) => r.stage === stage);
      return row ? parseMeta(row) : undefined;
    },
    audit: () => auditEntries(rotor),
    close: () => rotor.close(),
  };
}

async function post(body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${base}/rotate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function signed(
  body: unknown,
  at = Math.floor(Date.now() / 1000),
  key = KEY,
  idempotencyKey = 'test',
) {
  const text = JSON.stringify(body);
  return {
    'x-rotor-timestamp': String(at),
    'x-rotor-signature': `v1=${createHmac('sha256', key).update(`${at}.${text}`).digest('hex')}`,
    'idempotency-key': idempotencyKey,
  };
}

describe('the reference endpoint refuses what the contract says it must', () => {
  it('no signature, a wrong key, a stale timestamp; a reused idempotency key answers the same key; a revoked key is refused by the provider', async () => {
    const body = {
      action: 'create',
      secret: 'X',
      environment: 'production',
      version: 'v-self-test',
      name: 'rotor X/production v-self-test',
    };
    expect((await post(body, {})).status).toBe(401);
    expect((await post(body, signed(body, undefined, 'another key'))).status).toBe(401);
    expect((await post(body, signed(body, Math.floor(Date.now() / 1000) - 3600))).status).toBe(401);
    const first = await post(body, signed(body, undefined, KEY, 'create:v-self-test'));
    expect(first.status).toBe(201);
    const again = await post(body, signed(body, undefined, KEY, 'create:v-self-test'));
    expect(again.body).toEqual(first.body);
    expect(
      (
        await post(
          { ...body, name: 'other' },
          signed({ ...body, name: 'other' }, undefined, KEY, 'create:v-self-test'),
        )
      ).status,
    ).toBe(422);
    const value = String(first.body.value);
    expect(await whoami(value)).toBe(200);
    const revoke = { action: 'revoke', id: first.body.id };
    expect((await post(revoke, signed(revoke, undefined, KEY, 'revoke:v-self-test'))).status).toBe(
      200,
    );
    expect(await whoami(value)).toBe(401);
    const unknown = { action: 'revoke', id: 'key_none' };
    expect((await post(unknown, signed(unknown, undefined, KEY, 'revoke:none'))).status).toBe(404);
  });
});

describe('http kind through the engine', { timeout: 60_000 }, () => {
  it('rotate creates and verifies through the endpoint; retire revokes, and the provider refuses the retired key', async () => {
    const f = await fixture();
    const first = fake.addKey();
    expect(
      (await f.p.cli(['import', NAME, '--env', 'production'], { stdin: first.value })).code,
    ).toBe(0);
    const result = await f.rotate();
    expect(result.ok, JSON.stringify(result.results)).toBe(true);
    const current = (await f.value('current'))!;
    const meta = (await f.meta('current'))!;
    expect(fake.keys.get(String(meta.credentialId))?.name).toBe(
      `rotor ${NAME}/production ${result.results[0]!.versionId}`,
    );
    expect(await whoami(current)).toBe(200);
    expect(await whoami(first.value)).toBe(200); // grace
    expect(
      fake.calls
        .filter((c) => c.action === 'create')
        .every((c) => c.signed && /^create:/.test(c.idempotencyKey)),
    ).toBe(true);

    f.p.clock.advance(2 * HOUR);
    expect(await f.retire()).toHaveLength(1);
    expect(await whoami(first.value)).toBe(401); // imported key: revoked by value
    expect(await whoami(current)).toBe(200);

    expect((await f.rotate()).ok).toBe(true);
    f.p.clock.advance(2 * HOUR);
    await f.retire();
    expect(await whoami(current)).toBe(401);
    const audit = await f.audit();
    const proofs = audit.filter((e) => e.action === 'retire.verified');
    expect(proofs.map((e) => e.outcome)).toEqual(['success', 'success']);
    expect(proofs[0]!.notes).toMatch(/verify answered valid: false/);
    expectNoValues(
      [JSON.stringify(audit), ...f.logs],
      [first.value, current, await f.value('current'), KEY],
    );
    await f.close();
  });

  it('an emergency revokes the previous key at once', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const old = (await f.value('current'))!;
    const result = await f.rotate({ emergency: true });
    expect(result.ok, JSON.stringify(result.results)).toBe(true);
    expect(await whoami(old)).toBe(401);
    expect(result.results[0]!.emergencyActions?.join(' ')).toMatch(
      /revoked through the endpoint at once/,
    );
    await f.close();
  });

  it('a credential verify calls invalid is not promoted, and is revoked: no orphan at the provider', async () => {
    const f = await fixture();
    fake.refuseAll = true;
    let result;
    try {
      result = await f.rotate();
    } finally {
      fake.refuseAll = false;
    }
    expect(result.ok).toBe(false);
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_VERIFY_FAILED');
    expect(result.results[0]!.error?.message).toMatch(
      /Acme endpoint says the new credential does not work after 2 attempt\(s\) \(the provider refused the key\)/,
    );
    const made = [...fake.keys.values()].at(-1)!;
    expect(made.name).toMatch(new RegExp(`^rotor ${NAME}/production [0-9a-f-]{36}$`));
    expect(made.revoked).toBe(true);
    expect(await whoami(made.value)).toBe(401);
    expect(await f.value('current')).toBeUndefined();
    await f.close();
  });

  it('429 and 503 with Retry-After are retried; a lost create answer is retried with the same idempotency key and makes one key', async () => {
    const f = await fixture();
    const before = fake.keys.size;
    fake.failNext(1, 429, '0');
    fake.loseNextCreateAnswer = true;
    const result = await f.rotate();
    expect(result.ok, JSON.stringify(result.results)).toBe(true);
    expect(fake.keys.size).toBe(before + 1);
    const creates = fake.calls.filter(
      (c) => c.idempotencyKey === `create:${result.results[0]!.versionId}`,
    );
    expect(creates.map((c) => c.status)).toEqual([429, 503, 201]);

    fake.failNext(3, 503, '0');
    const down = await f.rotate();
    expect(down.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_UNAVAILABLE');
    expect(down.results[0]!.error?.message).toMatch(
      /Acme endpoint create failed after 3 attempt\(s\) \(HTTP 503\); nothing was promoted/,
    );
    await f.close();
  });

  it('an endpoint that does not answer is given up on after timeoutMs per attempt, and retried', async () => {
    const f = await fixture('      timeoutMs: 300\n');
    fake.hangNext = 1;
    const result = await f.rotate();
    expect(result.ok, JSON.stringify(result.results)).toBe(true);
    const creates = fake.calls.filter(
      (c) => c.idempotencyKey === `create:${result.results[0]!.versionId}`,
    );
    expect(creates.map((c) => c.status)).toEqual([0, 201]);

    const kept = await f.value('current');
    fake.hangNext = 3;
    const down = await f.rotate();
    expect(down.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_UNAVAILABLE');
    expect(down.results[0]!.error?.message).toMatch(
      /Acme endpoint create failed after 3 attempt\(s\) \(no answer within 300 ms\)/,
    );
    expect(await f.value('current')).toBe(kept);
    await f.close();
  });

  it('a signature the endpoint refuses (401) names the provider and the call; nothing is stored', async () => {
    const f = await fixture();
    f.p.env.ACME_ROTOR_KEY = 'a key the endpoint does not know';
    const result = await f.rotate();
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_AUTH_FAILED');
    expect(result.results[0]!.error?.message).toMatch(
      /ACME_API_KEY\/production: Acme endpoint create refused Rotor's signature .*HTTP 401: signature refused/,
    );
    expect(await f.value('current')).toBeUndefined();
    expectNoValues([JSON.stringify(result)], ['a key the endpoint does not know']);
    await f.close();
  });

  it('an endpoint that echoes the value in an error has it masked', async () => {
    const f = await fixture();
    fake.refuseAll = true;
    fake.echoValues = true;
    let result;
    try {
      result = await f.rotate();
    } finally {
      fake.refuseAll = false;
      fake.echoValues = false;
    }
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_REQUEST_FAILED');
    expect(result.results[0]!.error?.message).toMatch(
      /Acme endpoint verify failed \(HTTP 400: the key \[redacted\] was refused\)/,
    );
    const made = [...fake.keys.values()].at(-1)!;
    expectNoValues(
      [JSON.stringify(result), JSON.stringify(await f.audit()), ...f.logs],
      [made.value, made.value.slice(0, 20)],
    );
    expect(made.revoked).toBe(true);
    await f.close();
  });

  it('a process killed before verify is rolled back by resume (key revoked); one killed after verify is promoted', async () => {
    const f = await fixture();
    const crash = (point: string) => crashRotationAt(f.p, point, NAME, 'ACME_ROTOR_KEY');
    await crash('apply:started');
    const orphan = [...fake.keys.values()].at(-1)!;
    expect(orphan.revoked).toBe(false);
    const rolledBack = await f.p.cli(['resume', '--json']);
    expect(rolledBack.stdout).toContain('rolled-back');
    expect(orphan.revoked).toBe(true);
    expect(await whoami(orphan.value)).toBe(401);

    await crash('verify:done');
    const resumed = await f.p.cli(['resume', '--json']);
    expect(resumed.stdout).toContain('completed');
    const current = (await f.value('current'))!;
    expect(await whoami(current)).toBe(200);
    expectNoValues(
      [rolledBack.stdout, rolledBack.stderr, resumed.stdout, resumed.stderr],
      [orphan.value, current],
    );
    await f.close();
  }, 180_000);

  it('a process killed inside create: resume asks the endpoint to abandon the key named for that version and audits it; an endpoint that cannot be asked is audited as such', async () => {
    const f = await fixture();
    const crash = () => crashRotationAt(f.p, 'create:done', NAME, 'ACME_ROTOR_KEY');
    expect((await f.rotate()).ok).toBe(true);
    const current = (await f.value('current'))!;
    const person = fake.addKey('rotor ACME_API_KEY/production made-by-a-person');
    await crash();
    const orphan = [...fake.keys.values()].at(-1)!;
    expect(orphan.name).toMatch(/^rotor ACME_API_KEY\/production [0-9a-f-]{36}$/);
    expect(await whoami(orphan.value)).toBe(200);
    const callsBefore = fake.calls.length;
    const resumed = await f.p.cli(['resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('rolled-back');
    expect(await whoami(orphan.value)).toBe(401);
    expect(await whoami(person.value)).toBe(200);
    expect(await whoami(current)).toBe(200);
    expect(await f.value('current')).toBe(current);
    const abandon = fake.calls.slice(callsBefore).filter((c) => c.action === 'abandon');
    expect(abandon.map((c) => [c.signed, c.status])).toEqual([[true, 200]]);
    expect(abandon[0]!.idempotencyKey).toBe(`abandon:${orphan.name.split(' ').at(-1)}`);
    let rows = (await f.audit()).filter((e) => e.action === 'rotate.rollback');
    expect(rows.map((e) => e.notes)).toEqual([
      expect.stringContaining(`the Acme endpoint revoked ${orphan.id} named ${orphan.name}`),
    ]);

    // The endpoint fails every attempt: the rotation is still rolled back, and the audit says
    // that a key may remain rather than claiming a clean rollback.
    await crash();
    const second = [...fake.keys.values()].at(-1)!;
    fake.failNext(3, 503);
    const failed = await f.p.cli(['resume', '--json']);
    expect(failed.stdout).toContain('rolled-back');
    expect(second.revoked).toBe(false);
    rows = (await f.audit()).filter((e) => e.action === 'rotate.rollback');
    expect(rows[1]!.notes).toMatch(
      /could not look for what create made for version \S+ \(ERR_ROTOR_PROVIDER_/,
    );
    expect(rows[1]!.notes).toContain('a credential may remain at the provider');
    expect(rows[1]!.details).toMatchObject({ abandoned: 0 });
    expectNoValues(
      [resumed.stdout, failed.stdout, JSON.stringify(await f.audit()), ...f.logs],
      [orphan.value, second.value, current, KEY],
    );
    await f.close();
  }, 180_000);

  it('config refuses plain http to another host, a URL with a password, and a key written inline', () => {
    const ok = { provider: 'Acme', url: 'https://rotator.example.com/acme', key: { env: 'K' } };
    expect(httpWebhookRotator.configSchema.safeParse(ok).success).toBe(true);
    expect(
      httpWebhookRotator.configSchema.safeParse({ ...ok, url: 'http://127.0.0.1:8080/r' }).success,
    ).toBe(true);
    const plain = httpWebhookRotator.configSchema.safeParse({
      ...ok,
      url: 'http://rotator.example.com/acme',
    });
    expect(JSON.stringify(plain.error?.issues)).toContain('must be https://');
    expect(
      httpWebhookRotator.configSchema.safeParse({ ...ok, url: 'https://u:p@rotator.example.com/' })
        .success,
    ).toBe(false);
    expect(httpWebhookRotator.configSchema.safeParse({ ...ok, key: 'inline-key' }).success).toBe(
      false,
    );
    expect(httpWebhookRotator.configSchema.safeParse({ ...ok, attempts: 50 }).success).toBe(false);
  });
});
