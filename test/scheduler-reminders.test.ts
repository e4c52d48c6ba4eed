import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createScheduler } from '../src/core/scheduler/scheduler.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import {
  auditEntries,
  rotorWithLogs,
  SMTP_PASSWORD,
  startReceiver,
  startSmtp,
  type TestReceiver,
  type TestSmtp,
} from './scheduler-helpers.js';

const HOOK_KEY = 'hook-signing-key-0123456789';
const VALUE = 'manual-smtp-value-XYZ-31337';
const TOKEN_VALUE = Buffer.alloc(32, 0x5a).toString('base64url');
const ROTATED = Date.UTC(2026, 0, 1);
const DUE = ROTATED + 90 * DAY; // 2026-04-01
const OVERDUE = DUE + DAY; // a 90d cadence is overdue from day 91

function policy(hookUrl: string): string {
  return `version: 1
environments: [staging, production]
notify:
  email:
    smtp: { url: { env: SMTP_URL } }
    from: rotor@example.com
    to: [ops@example.com, oncall@example.com]
  webhook:
    - url: ${hookUrl}
      key: { env: HOOK_KEY }
secrets:
  SMTP_PASSWORD:
    kind: manual
    cadence: 90d
    environments: [production]
    owner: platform-team
    config: { instructions: "Create a new credential at the provider" }
  METRICS_AUTH_TOKEN:
    kind: random
    cadence: 90d
    auto: false
    environments: [production]
    config: { bytes: 32, encoding: base64url }
`;
}

describe('scheduler reminders', { timeout: 60_000 }, () => {
  let smtp: TestSmtp;
  let receiver: TestReceiver;
  let p: TestProject;

  beforeEach(async () => {
    smtp = await startSmtp();
    receiver = await startReceiver(HOOK_KEY);
    p = await createProject({ policy: policy(receiver.url), start: ROTATED });
    Object.assign(p.env, { SMTP_URL: smtp.url, HOOK_KEY });
    const imported = await p.cli(
      ['import', 'SMTP_PASSWORD', '--env', 'production', '--rotated-at', '2026-01-01'],
      { stdin: VALUE },
    );
    expect(imported.code, imported.stderr).toBe(0);
    const token = await p.cli(
      ['import', 'METRICS_AUTH_TOKEN', '--env', 'production', '--rotated-at', '2026-01-01'],
      { stdin: TOKEN_VALUE },
    );
    expect(token.code, token.stderr).toBe(0);
  });

  afterEach(async () => {
    await smtp.close();
    await receiver.close();
  });

  it('sends each reminder slot once by e-mail (SMTP AUTH) and signed webhook: 14d, 1d, 0d before due, then daily while overdue, even when ticked twice and by two schedulers at once', async () => {
    const { rotor, logs } = rotorWithLogs(p);
    const other = rotorWithLogs(p);
    const scheduler = createScheduler({ rotor });
    const second = createScheduler({ rotor });
    const slotsSent: string[] = [];
    const tickTwice = async (at: number) => {
      p.clock.set(at);
      for (const s of [scheduler, scheduler]) {
        const report = await s.tick();
        for (const r of report.reminders)
          if (r.outcome === 'sent' && r.channel === 'email')
            slotsSent.push(`${r.secret}:${r.slot}`);
        expect(report.reminders.filter((r) => r.outcome === 'failed')).toEqual([]);
      }
    };

    await tickTwice(DUE - 15 * DAY);
    expect(smtp.mails).toHaveLength(0);
    await tickTwice(DUE - 14 * DAY);
    await tickTwice(DUE - 7 * DAY);
    await tickTwice(DUE - DAY);
    await tickTwice(DUE);
    await tickTwice(DUE + 12 * 3_600_000);
    await tickTwice(OVERDUE);
    await tickTwice(OVERDUE + 3_600_000);
    // Two schedulers on one store at the same instant: one leads, the other does nothing.
    p.clock.set(OVERDUE + DAY);
    const [a, b] = await Promise.all([scheduler.tick(), second.tick()]);
    expect([a.leader, b.leader].sort()).toEqual([false, true]);
    for (const r of [...a.reminders, ...b.reminders])
      if (r.outcome === 'sent' && r.channel === 'email') slotsSent.push(`${r.secret}:${r.slot}`);
    // A restarted scheduler (new instance, after the old one let go) finds the slot taken in the store.
    await scheduler.stop();
    await second.stop();
    const restarted = createScheduler({ rotor: other.rotor });
    const again = await restarted.tick();
    expect(again.leader).toBe(true);
    expect(again.reminders).toEqual([]);
    await restarted.stop();

    const expected = ['due-14d', 'due-1d', 'due-0d', 'overdue-1', 'overdue-2'];
    expect(slotsSent).toEqual(
      expected.flatMap((s) => [`METRICS_AUTH_TOKEN:${s}`, `SMTP_PASSWORD:${s}`]),
    );
    expect(smtp.mails).toHaveLength(10);
    expect(receiver.hooks).toHaveLength(10);

    // E-mail: authenticated as the SMTP URL's user, from/to as configured, saying what is due.
    for (const mail of smtp.mails) {
      expect(mail.user).toBe('rotor-mailer');
      expect(mail.from).toBe('rotor@example.com');
      expect(mail.to).toEqual(['ops@example.com', 'oncall@example.com']);
    }
    const first = smtp.mails.find((m) => m.raw.includes('SMTP_PASSWORD'))!.raw;
    expect(first).toMatch(/Subject: Rotor: SMTP_PASSWORD \(production\) is due in 14 days/);
    expect(first).toContain('rotor rotate SMTP_PASSWORD --env production');
    expect(first).toContain('Owner: platform-team');
    expect(smtp.mails.some((m) => /is OVERDUE since 2026-04-02/.test(m.raw))).toBe(true);
    expect(smtp.mails.some((m) => m.raw.includes('auto: false'))).toBe(true);

    // Webhook: Slack-compatible JSON, signed like the http deploy hooks.
    for (const hook of receiver.hooks) {
      expect(hook.signatureValid).toBe(true);
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['x-rotor-event']).toBe('rotor.reminder');
      const body = JSON.parse(hook.body) as { text: string; blocks: unknown[] };
      expect(typeof body.text).toBe('string');
      expect(Array.isArray(body.blocks)).toBe(true);
    }

    // Each delivery audited with channel and target; nothing holds a value or a credential.
    const audit = await auditEntries(rotor);
    const sent = audit.filter((e) => e.action === 'reminder.sent');
    expect(sent).toHaveLength(20);
    expect(sent.every((e) => e.method === 'scheduled' && e.outcome === 'success')).toBe(true);
    expect(
      sent
        .filter((e) => e.details.channel === 'email')
        .every((e) => e.details.target === 'ops@example.com, oncall@example.com'),
    ).toBe(true);
    expect(
      sent
        .filter((e) => e.details.channel === 'webhook')
        .every((e) => e.details.target === new URL(receiver.url).origin),
    ).toBe(true);
    const everything = [
      ...smtp.mails.map((m) => m.raw),
      ...receiver.hooks.map((h) => h.body),
      ...audit.map((e) => e.raw),
      ...logs,
      ...other.logs,
    ].join('\n');
    expect(everything).not.toContain(VALUE);
    expect(everything).not.toContain(TOKEN_VALUE);
    expect(everything).not.toContain(SMTP_PASSWORD);
    expect(everything).not.toContain(HOOK_KEY);
    await rotor.close();
    await other.rotor.close();
  });

  // Two schedulers in one process share one Rotor (one store connection): two SQLite connections
  // in one process would block each other's event loop while waiting for the write lock.
  it('the unique key alone keeps a slot to one delivery when two schedulers both act at once (leases of 0 ms, so both lead)', async () => {
    const one = rotorWithLogs(p);
    const a = createScheduler({ rotor: one.rotor, leaseMs: 0 });
    const b = createScheduler({ rotor: one.rotor, leaseMs: 0 });
    p.clock.set(DUE - DAY);
    const reports = await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    expect(reports.filter((r) => r.leader).length).toBeGreaterThan(1);
    const sent = reports.flatMap((r) => r.reminders).filter((r) => r.outcome === 'sent');
    expect(sent.map((r) => `${r.secret}:${r.channel}`).sort()).toEqual([
      'METRICS_AUTH_TOKEN:email',
      'METRICS_AUTH_TOKEN:webhook',
      'SMTP_PASSWORD:email',
      'SMTP_PASSWORD:webhook',
    ]);
    expect(smtp.mails).toHaveLength(2);
    expect(receiver.hooks).toHaveLength(2);
    await a.stop();
    await b.stop();
    await one.rotor.close();
  });

  it('an SMTP server that is down (or refuses the password) is an audited failure, retried next tick until delivered; the webhook is not sent twice', async () => {
    const { rotor } = rotorWithLogs(p);
    const scheduler = createScheduler({ rotor });
    p.env.SMTP_URL = 'smtp://rotor-mailer:' + SMTP_PASSWORD + '@127.0.0.1:1';
    p.clock.set(DUE - 14 * DAY);
    const down = await scheduler.tick();
    const failed = down.reminders.filter((r) => r.outcome === 'failed');
    expect(failed.map((r) => [r.secret, r.channel])).toEqual([
      ['METRICS_AUTH_TOKEN', 'email'],
      ['SMTP_PASSWORD', 'email'],
    ]);
    expect(failed[0]!.error!.code).toBe('ERR_ROTOR_NOTIFY_FAILED');
    expect(receiver.hooks).toHaveLength(2);

    // Now the server is up, but the password is wrong: AUTH is really checked.
    p.env.SMTP_URL = `smtp://rotor-mailer:wrong-password@127.0.0.1:${smtp.port}`;
    p.clock.advance(60_000);
    const refused = await scheduler.tick();
    expect(refused.reminders.filter((r) => r.outcome === 'failed')).toHaveLength(2);
    expect(smtp.authFailures).toBeGreaterThan(0);
    expect(smtp.mails).toHaveLength(0);

    p.env.SMTP_URL = smtp.url;
    p.clock.advance(60_000);
    const up = await scheduler.tick();
    expect(up.reminders.map((r) => [r.secret, r.channel, r.outcome])).toEqual([
      ['METRICS_AUTH_TOKEN', 'email', 'sent'],
      ['SMTP_PASSWORD', 'email', 'sent'],
    ]);
    expect(smtp.mails).toHaveLength(2);
    expect(receiver.hooks).toHaveLength(2);
    expect((await scheduler.tick()).reminders).toEqual([]);

    const audit = await auditEntries(rotor);
    const failures = audit.filter((e) => e.action === 'reminder.failed');
    expect(failures).toHaveLength(4);
    expect(failures[0]!.details).toMatchObject({
      channel: 'email',
      target: 'ops@example.com, oncall@example.com',
      slot: 'due-14d',
      error: 'ERR_ROTOR_NOTIFY_FAILED',
    });
    expect(failures.map((e) => e.raw).join('\n')).not.toContain('wrong-password');
    expect(failures.map((e) => e.raw).join('\n')).not.toContain(SMTP_PASSWORD);
    await scheduler.stop();
    await rotor.close();
  });

  it('a webhook answering 500 is retried next tick, and a missing signing key variable is a clear failure', async () => {
    const { rotor } = rotorWithLogs(p);
    const scheduler = createScheduler({ rotor });
    p.clock.set(DUE);
    receiver.status = 500;
    const first = await scheduler.tick();
    expect(first.reminders.filter((r) => r.channel === 'webhook').map((r) => r.outcome)).toEqual([
      'failed',
      'failed',
    ]);
    expect(first.reminders.find((r) => r.channel === 'webhook')!.error!.message).toContain(
      'answered 500',
    );
    receiver.status = 200;
    delete p.env.HOOK_KEY;
    const second = await scheduler.tick();
    expect(second.reminders.find((r) => r.channel === 'webhook')!.error).toEqual({
      code: 'ERR_ROTOR_NOTIFY_CONFIG',
      message: 'the webhook signing key variable $HOOK_KEY is not set',
    });
    p.env.HOOK_KEY = HOOK_KEY;
    const third = await scheduler.tick();
    expect(third.reminders.map((r) => [r.channel, r.outcome])).toEqual([
      ['webhook', 'sent'],
      ['webhook', 'sent'],
    ]);
    expect(receiver.hooks.filter((h) => h.signatureValid)).toHaveLength(2 + 2);
    expect(smtp.mails).toHaveLength(2);
    await scheduler.stop();
    await rotor.close();
  });

  it('a rotation starts a new cycle: reminders for it come again before the next due date', async () => {
    const { rotor } = rotorWithLogs(p);
    const scheduler = createScheduler({ rotor });
    p.clock.set(DUE);
    expect(
      (await scheduler.tick()).reminders.filter(
        (r) => r.secret === 'SMTP_PASSWORD' && r.outcome === 'sent',
      ),
    ).toHaveLength(2);
    const rotated = await p.cli(['rotate', 'SMTP_PASSWORD', '--env', 'production'], {
      stdin: 'another-manual-value-42',
    });
    expect(rotated.code, rotated.stderr).toBe(0);
    p.clock.set(DUE + 90 * DAY - 14 * DAY);
    const next = await scheduler.tick();
    expect(
      next.reminders.filter((r) => r.secret === 'SMTP_PASSWORD').map((r) => [r.slot, r.outcome]),
    ).toEqual([
      ['due-14d', 'sent'],
      ['due-14d', 'sent'],
    ]);
    await scheduler.stop();
    await rotor.close();
  });
});
