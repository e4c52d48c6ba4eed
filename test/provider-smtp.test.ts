// The `smtp` kind with its three adapters (ses, sendgrid, mailgun) against local, stateful fakes
// of the providers' documented APIs (test/fakes/) and a real SMTP server (smtp-server) on loopback
// with a self-signed certificate made for the test, whose AUTH accepts exactly the credentials
// the provider fake currently holds. No provider is reached.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../src/core/audit/audit-log.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion } from '../src/core/vault/versions.js';
import { sesSmtpPassword } from '../src/rotators/smtp/ses-password.js';
import { FakeAws } from './fakes/aws-iam-fake.js';
import { FakeMailgun } from './fakes/mailgun-fake.js';
import { FakeSendgrid } from './fakes/sendgrid-fake.js';
import { startSmtpFake, type SmtpFake } from './fakes/smtp-fake.js';
import { auditEntries } from './helpers/audit-entries.js';
import { createProject, type TestProject } from './helpers/project.js';
import { crashRotationAt } from './helpers/provider-crash.js';

const HOUR = 3_600_000;
const actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-0000000000e1',
  method: 'manual' as const,
};

const aws = new FakeAws();
const sendgrid = new FakeSendgrid();
const mailgun = new FakeMailgun('key-mailgun-admin-0123456789abcdef');
let smtp: { ses: SmtpFake; sendgrid: SmtpFake; mailgun: SmtpFake };

beforeAll(async () => {
  await Promise.all([aws.start(), sendgrid.start(), mailgun.start()]);
  smtp = {
    // SES: the user is an active IAM key id, the password the region's derived one.
    ses: await startSmtpFake({
      tls: 'implicit',
      accepts: (user, password) => {
        const key = aws.keys.get(user);
        return key?.status === 'Active' && password === sesSmtpPassword(key.secret, 'eu-west-1');
      },
    }),
    sendgrid: await startSmtpFake({
      tls: 'starttls',
      accepts: (u, p) => sendgrid.acceptsSmtp(u, p),
    }),
    mailgun: await startSmtpFake({ tls: 'starttls', accepts: (u, p) => mailgun.acceptsSmtp(u, p) }),
  };
});
afterAll(async () => {
  await Promise.all([
    aws.stop(),
    sendgrid.stop(),
    mailgun.stop(),
    ...Object.values(smtp ?? {}).map((s) => s.stop()),
  ]);
});

interface Fixture {
  p: TestProject;
  rotate(emergency?: boolean): ReturnType<ReturnType<typeof createRotationEngine>['rotate']>;
  retire(): ReturnType<ReturnType<typeof createRotationEngine>['retire']>;
  current(): Promise<{ username: string; password: string } | undefined>;
  audit(): Promise<string>;
  close(): Promise<void>;
}

let n = 0;
async function fixture(
  adapterConfig: string,
  server: SmtpFake,
  env: Record<string, string>,
  options: { trustCa?: boolean; tls?: string } = {},
): Promise<Fixture> {
  const p = await createProject({
    policy: `version: 1
environments: [production]
secrets:
  SMTP_CREDENTIAL:
    kind: smtp
    cadence: 180d
    grace: 1h
    config:
      smtp: { host: 127.0.0.1, port: ${server.port}, tls: ${options.tls ?? 'starttls'}${options.trustCa === false ? '' : ', ca: { env: SMTP_CA }'} }
      variables: { username: SMTP_USER, password: SMTP_PASSWORD }
      propagation: { attempts: 2, delayMs: 5 }
${adapterConfig}`,
  });
  Object.assign(p.env, env, { SMTP_CA: server.ca });
  const rotor = p.rotor();
  return {
    p,
    rotate: (emergency = false) =>
      createRotationEngine({ rotor }).rotate(actor, {
        secret: 'SMTP_CREDENTIAL',
        method: emergency ? 'emergency' : 'manual',
        ...(emergency ? { emergency: true, reason: 'password in a ticket' } : {}),
      }),
    retire: () => createRotationEngine({ rotor }).retire(actor, {}),
    async current() {
      const store = await rotor.store();
      const row = await store.db
        .selectFrom('versions')
        .selectAll()
        .where('secret', '=', 'SMTP_CREDENTIAL')
        .where('stage', '=', 'current')
        .executeTakeFirst();
      return row
        ? (JSON.parse(openVersion(await rotor.masterKey(), row)) as {
            username: string;
            password: string;
          })
        : undefined;
    },
    audit: async () => JSON.stringify(await auditEntries(rotor)),
    close: () => rotor.close(),
  };
}

const authsOf = (server: SmtpFake, username: string) =>
  server.auths.filter((a) => a.username === username).map((a) => a.accepted);

/** Runs one rotation in a child process that SIGKILLs itself right after the engine's `point`. */
const crashAt = (f: Fixture, point: string, pass: string) =>
  crashRotationAt(f.p, point, 'SMTP_CREDENTIAL', pass);

/** The notes of the rollback rows in the audit log, oldest first. */
async function rollbackNotes(f: Fixture): Promise<string[]> {
  const rows = JSON.parse(await f.audit()) as AuditEntry[];
  return rows.filter((e) => e.action === 'rotate.rollback').map((e) => e.notes);
}

describe('SES SMTP password derivation', () => {
  it('matches the documented HMAC chain computed independently by openssl, with version byte 0x04', () => {
    // AWS's documented example secret access key; the chain recomputed with the openssl CLI.
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    let key = Buffer.from(`AWS4${secret}`).toString('hex');
    for (const part of ['11111111', 'us-east-1', 'ses', 'aws4_request', 'SendRawEmail']) {
      key = execFileSync(
        'openssl',
        ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key}`, '-hex'],
        { input: part },
      )
        .toString()
        .trim()
        .split('= ')[1]!;
    }
    const expected = Buffer.concat([Buffer.from([4]), Buffer.from(key, 'hex')]).toString('base64');
    expect(sesSmtpPassword(secret, 'us-east-1')).toBe(expected);
    expect(Buffer.from(expected, 'base64')[0]).toBe(4);
    expect(expected).toHaveLength(44);
    expect(sesSmtpPassword(secret, 'eu-west-1')).not.toBe(expected); // one password per region
  });
});

describe('smtp / ses', () => {
  it('rotates the SMTP user’s IAM key: the derived password logs in over implicit TLS before promotion; the retired one is refused', async () => {
    const user = `ses-smtp-${++n}`;
    aws.addUser(user);
    aws.addUser(`${user}-admin`);
    const admin = aws.addKey(`${user}-admin`);
    const f = await fixture(
      `      adapter: ses
      iam: { userName: ${user}, admin: { env: AWS_ADMIN }, region: eu-west-1, endpoints: { iam: "${aws.endpoint}", sts: "${aws.endpoint}" } }`,
      smtp.ses,
      { AWS_ADMIN: `${admin.id}:${admin.secret}` },
      { tls: 'implicit' },
    );
    expect((await f.rotate()).ok).toBe(true);
    const first = (await f.current())!;
    expect(first.username).toMatch(/^AKIA/);
    expect(first.password).toBe(sesSmtpPassword(aws.keys.get(first.username)!.secret, 'eu-west-1'));
    expect(authsOf(smtp.ses, first.username)).toEqual([true]);

    const second = await f.rotate();
    expect(second.ok, JSON.stringify(second.results)).toBe(true);
    const now = (await f.current())!;
    f.p.clock.advance(2 * HOUR);
    expect((await f.retire()).length).toBe(1);
    expect(aws.keys.get(first.username)?.status).toBe('Inactive');
    expect(authsOf(smtp.ses, first.username)).toEqual([true, false]);
    const verified = (JSON.parse(await f.audit()) as AuditEntry[]).filter(
      (e) => e.action === 'retire.verified',
    );
    expect(verified.map((e) => [e.outcome, e.notes])).toEqual([
      [
        'success',
        expect.stringMatching(
          /^a fresh login with the retired credential was refused \(SMTP AUTH at 127\.0\.0\.1:\d+ refused the retired ses credential/,
        ),
      ],
    ]);
    expect(authsOf(smtp.ses, now.username)).toEqual([true]);
    const audit = await f.audit();
    for (const s of [
      first.password,
      now.password,
      admin.secret,
      aws.keys.get(now.username)!.secret,
    ])
      expect(audit).not.toContain(s);
    await f.close();
  });
  it('a process killed inside create has the IAM key tagged for that version deleted by rotor resume; the current SMTP login still works', async () => {
    const user = `ses-smtp-${++n}`;
    aws.addUser(user);
    aws.addUser(`${user}-admin`);
    const admin = aws.addKey(`${user}-admin`);
    const f = await fixture(
      `      adapter: ses
      iam: { userName: ${user}, admin: { env: AWS_ADMIN }, region: eu-west-1, endpoints: { iam: "${aws.endpoint}", sts: "${aws.endpoint}" } }`,
      smtp.ses,
      { AWS_ADMIN: `${admin.id}:${admin.secret}` },
      { tls: 'implicit' },
    );
    expect((await f.rotate()).ok).toBe(true);
    const cur = (await f.current())!;
    await crashAt(f, 'create:done', 'AWS_ADMIN,SMTP_CA');
    const orphan = aws.keysOf(user).find((k) => k.id !== cur.username)!;
    expect(orphan.status).toBe('Active');
    const resumed = await f.p.cli(['resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('rolled-back');
    expect(aws.keysOf(user).map((k) => [k.id, k.status])).toEqual([[cur.username, 'Active']]);
    expect(await rollbackNotes(f)).toEqual([
      expect.stringContaining(`deleted IAM access key ${orphan.id} of user ${user}`),
    ]);
    // What the SES SMTP fake accepts: an active key and its region's derived password.
    expect(aws.keys.get(cur.username)?.status).toBe('Active');
    expect(cur.password).toBe(sesSmtpPassword(aws.keys.get(cur.username)!.secret, 'eu-west-1'));
    const audit = await f.audit();
    for (const s of [orphan.secret, cur.password, admin.secret]) expect(audit).not.toContain(s);
    await f.close();
  }, 180_000);
});

describe('smtp / sendgrid', () => {
  const adminKey = () =>
    sendgrid.addKey('rotor admin', ['api_keys.read', 'api_keys.create', 'api_keys.delete']);
  const config = `      adapter: sendgrid
      admin: { env: SENDGRID_ADMIN }
      apiBase: "${'ENDPOINT'}"
      attempts: 2`;
  const cfg = () => config.replace('ENDPOINT', sendgrid.endpoint);

  it('copies the old key’s scopes, logs in as apikey over STARTTLS before promotion, deletes the old key by id at retire', async () => {
    const console = sendgrid.addKey('made in the console', ['mail.send', 'stats.read']);
    const f = await fixture(cfg(), smtp.sendgrid, { SENDGRID_ADMIN: adminKey().key });
    const imported = await f.p.cli(['import', 'SMTP_CREDENTIAL', '--env', 'production'], {
      stdin: JSON.stringify({ username: 'apikey', password: console.key }),
    });
    expect(imported.code, imported.stderr).toBe(0);
    const result = await f.rotate();
    expect(result.ok, JSON.stringify(result.results)).toBe(true);
    const cur = (await f.current())!;
    const made = [...sendgrid.keys.values()].find((k) => k.key === cur.password)!;
    expect(made.scopes).toEqual(['mail.send', 'stats.read']);
    expect(made.name).toMatch(
      new RegExp(`^rotor SMTP_CREDENTIAL/production \\S+ after ${console.id}$`),
    );
    expect(sendgrid.acceptsSmtp('apikey', console.key)).toBe(true); // both valid during grace

    f.p.clock.advance(2 * HOUR);
    await f.retire();
    expect(sendgrid.keys.has(console.id)).toBe(false);
    expect(smtp.sendgrid.auths.at(-1)).toEqual({ username: 'apikey', accepted: false });

    const out = join(f.p.dir, 'seen.json');
    const run = await f.p.cli([
      'run',
      '--env',
      'production',
      '--',
      process.execPath,
      '-e',
      `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify([process.env.SMTP_USER, process.env.SMTP_PASSWORD]))`,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(['apikey', cur.password]);
    expect(await f.audit()).not.toContain(cur.password.slice(3));
    await f.close();
  });

  it('a wrong admin key, one without api_keys.create, and a 5xx on create fail clearly and promote nothing', async () => {
    const f = await fixture(cfg(), smtp.sendgrid, { SENDGRID_ADMIN: 'SG.nope.nope' });
    const before = sendgrid.keys.size;
    const wrong = await f.rotate();
    expect(wrong.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_AUTH_FAILED');
    expect(wrong.results[0]!.error?.message).toContain(
      'SendGrid POST /v3/api_keys refused the admin credential (HTTP 401',
    );
    expect(wrong.results[0]!.error?.message).not.toContain('SG.nope');

    f.p.env.SENDGRID_ADMIN = sendgrid.addKey('read only', ['api_keys.read']).key;
    const denied = await f.rotate();
    expect(denied.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_PERMISSION_MISSING');
    expect(denied.results[0]!.error?.message).toContain('POST /v3/api_keys');

    f.p.env.SENDGRID_ADMIN = adminKey().key;
    sendgrid.failures.set('POST /v3/api_keys', 503);
    const down = await f.rotate();
    sendgrid.failures.clear();
    expect(down.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_UNAVAILABLE');
    expect(sendgrid.calls.filter((c) => c.method === 'POST' && c.status === 503).length).toBe(2);
    expect(sendgrid.keys.size).toBe(before + 2); // only the two admin keys this test added
    expect(await f.current()).toBeUndefined();
    await f.close();
  });

  it('a key left by a rotation interrupted before it was stored is deleted by the next rotation', async () => {
    const f = await fixture(cfg(), smtp.sendgrid, { SENDGRID_ADMIN: adminKey().key });
    expect((await f.rotate()).ok).toBe(true);
    const cur = (await f.current())!;
    const currentId = cur.password.split('.')[1]!;
    const orphan = sendgrid.addKey(
      `rotor SMTP_CREDENTIAL/production 22222222-2222-4222-8222-222222222222 after ${currentId}`,
      ['mail.send'],
    );
    const stranger = sendgrid.addKey(
      `rotor SMTP_CREDENTIAL/production 33333333-3333-4333-8333-333333333333 after SOMEONEELSE`,
      ['mail.send'],
    );
    f.p.clock.advance(2 * HOUR);
    expect((await f.rotate()).ok).toBe(true);
    expect(sendgrid.keys.has(orphan.id)).toBe(false);
    expect(sendgrid.keys.has(stranger.id)).toBe(true); // another project's key is never touched
    await f.close();
  });

  it('a process killed before verify is rolled back by rotor resume (its key deleted); one killed after verify is finished', async () => {
    const f = await fixture(cfg(), smtp.sendgrid, { SENDGRID_ADMIN: adminKey().key });
    const crash = (point: string) => crashAt(f, point, 'SENDGRID_ADMIN,SMTP_CA');
    const before = new Set(sendgrid.keys.keys());
    await crash('verify:started');
    expect([...sendgrid.keys.keys()].filter((k) => !before.has(k)).length).toBe(1); // made, never verified
    expect((await f.p.cli(['resume', '--json'])).stdout).toContain('rolled-back');
    expect([...sendgrid.keys.keys()].filter((k) => !before.has(k))).toEqual([]);
    expect(await f.current()).toBeUndefined();

    await crash('verify:done');
    expect((await f.p.cli(['resume', '--json'])).stdout).toContain('completed');
    const cur = (await f.current())!;
    expect(sendgrid.acceptsSmtp('apikey', cur.password)).toBe(true);
    await f.close();
  }, 180_000);

  it('a process killed inside create has the key named for that version deleted by rotor resume; a key named for another version stays', async () => {
    const f = await fixture(cfg(), smtp.sendgrid, { SENDGRID_ADMIN: adminKey().key });
    expect((await f.rotate()).ok).toBe(true);
    const cur = (await f.current())!;
    const currentId = cur.password.split('.')[1]!;
    const before = new Set(sendgrid.keys.keys());
    await crashAt(f, 'create:done', 'SENDGRID_ADMIN,SMTP_CA');
    const made = [...sendgrid.keys.keys()].filter((k) => !before.has(k));
    expect(made).toHaveLength(1);
    // Another attempt's key (the next create would delete it): not provably this rotation's.
    const other = sendgrid.addKey(
      `rotor SMTP_CREDENTIAL/production 44444444-4444-4444-8444-444444444444 after ${currentId}`,
      ['mail.send'],
    );
    const resumed = await f.p.cli(['resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('rolled-back');
    expect(sendgrid.keys.has(made[0]!)).toBe(false);
    expect(sendgrid.keys.has(other.id)).toBe(true);
    expect(sendgrid.keys.has(currentId)).toBe(true);
    expect(sendgrid.acceptsSmtp('apikey', cur.password)).toBe(true);
    expect(await rollbackNotes(f)).toEqual([
      expect.stringContaining(`deleted SendGrid API key ${made[0]!} named for version`),
    ]);
    expect(await f.audit()).not.toContain(cur.password);
    await f.close();
  }, 180_000);

  it('a key the SMTP server refuses is not promoted, and is deleted again', async () => {
    const f = await fixture(
      cfg().replace('attempts: 2', 'attempts: 2\n      scopes: [stats.read]'),
      smtp.sendgrid,
      { SENDGRID_ADMIN: adminKey().key },
    );
    const before = new Set(sendgrid.keys.keys());
    const result = await f.rotate();
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_VERIFY_FAILED');
    expect(result.results[0]!.error?.message).toMatch(
      /SMTP AUTH at 127\.0\.0\.1:\d+ refused the new sendgrid credential for apikey after 2 attempt/,
    );
    expect([...sendgrid.keys.keys()].filter((k) => !before.has(k))).toEqual([]);
    expect(await f.current()).toBeUndefined();
    await f.close();
  });

  it('refuses a server whose certificate it cannot trust, and changes nothing it cannot undo', async () => {
    const f = await fixture(
      cfg(),
      smtp.sendgrid,
      { SENDGRID_ADMIN: adminKey().key },
      { trustCa: false },
    );
    const before = new Set(sendgrid.keys.keys());
    const result = await f.rotate();
    expect([...sendgrid.keys.keys()].filter((k) => !before.has(k))).toEqual([]); // the unverified key was deleted
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_UNAVAILABLE');
    expect(result.results[0]!.error?.message).toMatch(
      /SMTP AUTH at 127\.0\.0\.1:\d+ \(starttls\) could not be tried/,
    );
    expect(await f.current()).toBeUndefined();
    await f.close();
  });
});

describe('smtp / mailgun', () => {
  const domain = 'mg.example.test';
  const cfg = () => `      adapter: mailgun
      admin: { env: MAILGUN_KEY }
      apiBase: "${mailgun.endpoint}"
      domain: ${domain}`;

  it('alternates two logins: a new password on the idle one, the old login deleted at retire and refused; a rotation inside grace is refused', async () => {
    mailgun.credentials.set(domain, new Map());
    const f = await fixture(cfg(), smtp.mailgun, { MAILGUN_KEY: mailgun.apiKey });
    expect((await f.rotate()).ok).toBe(true);
    const a = (await f.current())!;
    expect(a.username).toBe(`rotor-a@${domain}`);
    expect((await f.rotate()).ok).toBe(true);
    const b = (await f.current())!;
    expect(b.username).toBe(`rotor-b@${domain}`);
    expect(mailgun.acceptsSmtp(a.username, a.password)).toBe(true); // still valid in grace

    const early = await f.rotate();
    expect(early.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_KEY_LIMIT');
    expect(early.results[0]!.error?.message).toContain(`rotor-a@${domain}`);
    expect(mailgun.acceptsSmtp(a.username, a.password)).toBe(true); // nothing changed

    f.p.clock.advance(2 * HOUR);
    await f.retire();
    expect(mailgun.credentials.get(domain)!.has(a.username)).toBe(false);
    expect(authsOf(smtp.mailgun, a.username)).toEqual([true, false]);

    expect((await f.rotate()).ok).toBe(true);
    expect((await f.current())!.username).toBe(`rotor-a@${domain}`);
    const audit = await f.audit();
    for (const s of [a.password, b.password, mailgun.apiKey]) expect(audit).not.toContain(s);
    await f.close();
  });

  it('a process killed inside create leaves nothing at Mailgun (the login is set at apply): rotor resume rolls back and says so', async () => {
    mailgun.credentials.set(domain, new Map());
    const f = await fixture(cfg(), smtp.mailgun, { MAILGUN_KEY: mailgun.apiKey });
    expect((await f.rotate()).ok).toBe(true);
    const a = (await f.current())!;
    await crashAt(f, 'create:done', 'MAILGUN_KEY,SMTP_CA');
    expect([...mailgun.credentials.get(domain)!.keys()]).toEqual([a.username]);
    const resumed = await f.p.cli(['resume', '--json']);
    expect(resumed.stdout).toContain('rolled-back');
    expect([...mailgun.credentials.get(domain)!.keys()]).toEqual([a.username]);
    expect(mailgun.acceptsSmtp(a.username, a.password)).toBe(true);
    expect(await rollbackNotes(f)).toEqual([
      expect.stringContaining('Mailgun was not called for version'),
    ]);
    await f.close();
  }, 180_000);

  it('a provider 5xx while applying the password promotes nothing and leaves no login behind', async () => {
    mailgun.credentials.set(domain, new Map());
    const f = await fixture(`${cfg()}\n      attempts: 2`, smtp.mailgun, {
      MAILGUN_KEY: mailgun.apiKey,
    });
    mailgun.failures.set('POST', 502);
    const result = await f.rotate();
    mailgun.failures.clear();
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_UNAVAILABLE');
    expect(result.results[0]!.error?.message).toContain(
      'Mailgun POST /v3/domains/mg.example.test/credentials failed after 2 attempt(s) (HTTP 502)',
    );
    expect(await f.current()).toBeUndefined();
    expect([...mailgun.credentials.get(domain)!.keys()]).toEqual([]);
    await f.close();
  });

  it('rotor apply refuses a config without TLS or with an unknown adapter, naming the field', async () => {
    mailgun.credentials.set(domain, new Map());
    const f = await fixture(cfg(), smtp.mailgun, { MAILGUN_KEY: mailgun.apiKey });
    const yaml = readFileSync(join(f.p.dir, 'rotor.yaml'), 'utf8');
    f.p.writePolicy(yaml.replace('tls: starttls', 'tls: none'));
    const noTls = await f.p.cli(['apply']);
    expect(noTls.code).not.toBe(0);
    expect(noTls.stderr).toContain('ERR_ROTOR_POLICY_INVALID');
    expect(noTls.stderr).toMatch(/tls/);
    f.p.writePolicy(yaml.replace('adapter: mailgun', 'adapter: postmark'));
    const unknown = await f.p.cli(['apply']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/adapter/);
    await f.close();
  });

  it('an emergency takes the login in grace at once; a wrong API key fails with 401 named', async () => {
    mailgun.credentials.set(domain, new Map());
    const f = await fixture(cfg(), smtp.mailgun, { MAILGUN_KEY: mailgun.apiKey });
    expect((await f.rotate()).ok).toBe(true);
    expect((await f.rotate()).ok).toBe(true);
    const b = (await f.current())!;
    const emergency = await f.rotate(true);
    expect(emergency.ok, JSON.stringify(emergency.results)).toBe(true);
    expect(mailgun.credentials.get(domain)!.has(b.username)).toBe(false);
    expect(mailgun.acceptsSmtp(b.username, b.password)).toBe(false);
    expect(emergency.results[0]!.emergencyActions?.join(' ')).toContain('deleted at once');

    f.p.env.MAILGUN_KEY = 'key-wrong';
    const wrong = await f.rotate();
    expect(wrong.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_AUTH_FAILED');
    expect(wrong.results[0]!.error?.message).toContain(
      'Mailgun GET /v3/domains/mg.example.test/credentials refused the admin credential (HTTP 401',
    );
    await f.close();
  });
});
