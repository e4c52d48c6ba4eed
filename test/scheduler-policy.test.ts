import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../src/core/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../src/core/policy/default-policy.js';
import { ROTATORS } from '../src/rotators/registry.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const base = (secretExtra: string, top = '') =>
  `version: 1\nenvironments: [production]\n${top}secrets:\n  TOKEN:\n    kind: random\n    cadence: 30d\n${secretExtra}`;

function policyError(yaml: string): { code: string; message: string } {
  try {
    parsePolicy(yaml, 'rotor.yaml', ROTATORS);
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected the policy to be rejected');
}

const email = (smtp: string, to = '[ops@example.com]') =>
  `notify:\n  email:\n    smtp: ${smtp}\n    from: rotor@example.com\n    to: ${to}\n`;

describe('rotor.yaml scheduler fields', () => {
  it('reads window, auto, notify and scheduler, with defaults filled in', () => {
    const policy = parsePolicy(
      base(
        '    window: { days: [sat, sun], hours: "22:00-02:00", timezone: Europe/Berlin }\n    auto: false\n',
        `${email('{ url: { env: SMTP_URL } }')}  webhook:\n    - url: { env: SLACK_WEBHOOK_URL }\n      key: { env: HOOK_KEY }\n    - url: https://hooks.example.com/rotor\n      key: { env: HOOK_KEY }\n  reminders: [1d, 7d, 0d]\n  overdueEvery: 12h\nscheduler: { retries: 5, backoff: 1h }\n`,
      ),
      'rotor.yaml',
      ROTATORS,
    );
    const token = policy.secrets.get('TOKEN')!;
    expect(token.window).toEqual({
      days: ['sat', 'sun'],
      startMinute: 22 * 60,
      endMinute: 2 * 60,
      hours: '22:00-02:00',
      timeZone: 'Europe/Berlin',
    });
    expect(token.auto).toBe(false);
    expect(policy.notify).toEqual({
      email: { smtpUrlEnv: 'SMTP_URL', from: 'rotor@example.com', to: ['ops@example.com'] },
      webhooks: [
        { url: { env: 'SLACK_WEBHOOK_URL' }, keyEnv: 'HOOK_KEY' },
        { url: { url: 'https://hooks.example.com/rotor' }, keyEnv: 'HOOK_KEY' },
      ],
      remindersMs: [7 * DAY, DAY, 0],
      overdueEveryMs: 12 * HOUR,
    });
    expect(policy.scheduler).toEqual({ retries: 5, backoffMs: HOUR });
    const defaults = parsePolicy(
      base('    window: { hours: "02:00-05:00" }\n', 'notify: {}\n'),
      'rotor.yaml',
      ROTATORS,
    );
    expect(defaults.secrets.get('TOKEN')!.window).toMatchObject({
      days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
      timeZone: 'UTC',
    });
    expect(defaults.notify).toEqual({
      webhooks: [],
      remindersMs: [14 * DAY, DAY, 0],
      overdueEveryMs: DAY,
    });
    expect(defaults.secrets.get('TOKEN')!.auto).toBeUndefined();
  });

  it('the default policy of rotor init stays valid without any environment variable, and so does its commented-out e-mail and webhook example', () => {
    const policy = parsePolicy(DEFAULT_POLICY_YAML, 'rotor.yaml', ROTATORS);
    expect(policy.scheduler).toEqual({ retries: 3, backoffMs: 15 * 60_000 });
    expect(policy.notify).toEqual({
      webhooks: [],
      remindersMs: [14 * DAY, DAY, 0],
      overdueEveryMs: DAY,
    });
    const uncommented = DEFAULT_POLICY_YAML.replace(/^ {2}# (?!Credentials)/gm, '  ');
    expect(uncommented).not.toBe(DEFAULT_POLICY_YAML);
    const withChannels = parsePolicy(uncommented, 'rotor.yaml', ROTATORS);
    expect(withChannels.notify?.email).toEqual({
      smtpUrlEnv: 'SMTP_URL',
      from: 'rotor@example.com',
      to: ['platform-team@example.com'],
    });
    expect(withChannels.notify?.webhooks).toEqual([
      { url: { env: 'SLACK_WEBHOOK_URL' }, keyEnv: 'REMINDER_WEBHOOK_KEY' },
    ]);
  });

  it.each([
    [
      'an unknown day',
      base('    window: { days: [monday], hours: "02:00-05:00" }\n'),
      'rotor.yaml:7:22: secrets.TOKEN.window.days[0]: must be one of "sun", "mon", "tue", "wed", "thu", "fri", "sat"',
    ],
    [
      'hours out of range',
      base('    window: { hours: "25:00-26:00" }\n'),
      'rotor.yaml:7:22: secrets.TOKEN.window.hours: hours must be HH:MM-HH:MM (24-hour clock, start and end differ)',
    ],
    [
      'an empty window',
      base('    window: { hours: "02:00-02:00" }\n'),
      'secrets.TOKEN.window.hours: hours must be HH:MM-HH:MM',
    ],
    [
      'a window without hours',
      base('    window: { days: [mon] }\n'),
      'rotor.yaml:7:13: secrets.TOKEN.window.hours: hours is required',
    ],
    [
      'an unknown time zone',
      base('    window: { hours: "02:00-05:00", timezone: Mars/Olympus }\n'),
      'rotor.yaml:7:47: secrets.TOKEN.window.timezone: unknown time zone: use an IANA name such as Europe/Berlin or UTC',
    ],
    [
      'an unknown window field',
      base('    window: { hours: "02:00-05:00", tz: UTC }\n'),
      'secrets.TOKEN.window: unknown field "tz"',
    ],
    [
      'auto that is not a boolean',
      base('    auto: "no"\n'),
      'rotor.yaml:7:11: secrets.TOKEN.auto: auto must be true or false',
    ],
    [
      'an SMTP URL written in the file',
      base('', email('{ url: "smtp://user:hunter2@mail.example.com" }')),
      'rotor.yaml:5:18: notify.email.smtp.url: must be { env: VARIABLE_NAME }',
    ],
    [
      'an SMTP password field',
      base('', email('{ url: { env: SMTP_URL }, password: hunter2 }')),
      'rotor.yaml:5:11: notify.email.smtp: unknown field "password"',
    ],
    [
      'a bad recipient',
      base('', email('{ url: { env: SMTP_URL } }', '[not-an-address]')),
      'rotor.yaml:7:10: notify.email.to[0]: an e-mail address such as ops@example.com',
    ],
    ['no recipient', base('', email('{ url: { env: SMTP_URL } }', '[]')), 'notify.email.to'],
    [
      'a webhook URL with credentials',
      base(
        '',
        'notify:\n  webhook:\n    - url: https://user:pw@hooks.example.com/x\n      key: { env: K }\n',
      ),
      'rotor.yaml:5:12: notify.webhook[0].url: a URL with credentials in it does not belong in rotor.yaml',
    ],
    [
      'a webhook signing key written in the file',
      base(
        '',
        'notify:\n  webhook:\n    - url: https://hooks.example.com/x\n      key: s3cret-key\n',
      ),
      'rotor.yaml:6:12: notify.webhook[0].key: must be { env: VARIABLE_NAME }',
    ],
    [
      'an unsigned webhook',
      base('', 'notify:\n  webhook:\n    - url: https://hooks.example.com/x\n'),
      'notify.webhook[0].key: must be { env: VARIABLE_NAME }',
    ],
    [
      'a webhook that is not http(s)',
      base(
        '',
        'notify:\n  webhook:\n    - url: ftp://hooks.example.com/x\n      key: { env: K }\n',
      ),
      'rotor.yaml:5:12: notify.webhook[0].url: must be an http:// or https:// URL',
    ],
    [
      'a bad reminder offset',
      base('', 'notify:\n  reminders: [14 days, 1d]\n'),
      'rotor.yaml:4:15: notify.reminders[0]: invalid duration "14 days"',
    ],
    [
      'overdueEvery of zero',
      base('', 'notify:\n  overdueEvery: 0d\n'),
      'rotor.yaml:4:17: notify.overdueEvery: must be longer than zero',
    ],
    [
      'an unknown notify channel',
      base('', 'notify:\n  slack: { channel: x }\n'),
      'rotor.yaml:4:3: notify: unknown field "slack"',
    ],
    [
      'negative retries',
      base('', 'scheduler: { retries: -1 }\n'),
      'rotor.yaml:3:23: scheduler.retries: retries must be a whole number from 0 to 20',
    ],
    [
      'a bad backoff',
      base('', 'scheduler: { backoff: soon }\n'),
      'rotor.yaml:3:23: scheduler.backoff: invalid duration "soon"',
    ],
    [
      'a zero backoff',
      base('', 'scheduler: { backoff: 0s }\n'),
      'scheduler.backoff: must be longer than zero',
    ],
  ])('rejects %s with file:line:column and the field', (_what, yaml, expected) => {
    const e = policyError(yaml);
    expect(e.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(e.message).toContain(expected);
    expect(e.message).not.toContain('hunter2');
    expect(e.message).not.toContain('s3cret-key');
  });
});
