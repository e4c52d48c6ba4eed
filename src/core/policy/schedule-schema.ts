// rotor.yaml's scheduler settings: a secret's maintenance `window:` and `auto: false`, the
// top-level `notify:` block (e-mail, webhooks, reminder offsets) and `scheduler:` (retries,
// backoff). Credentials are named by environment variable only; a URL with a password in it,
// or any literal SMTP URL, is an error.
import { z } from 'zod';
import { MS, parseDuration } from '../duration.js';
import { durationSchema } from './duration-schema.js';
import { ENV_VAR_NAME } from './names.js';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A maintenance window: local days and hours in an IANA time zone. */
export interface MaintenanceWindow {
  /** Days the window opens on (a window crossing midnight belongs to the day it opens). */
  days: readonly Weekday[];
  /** Minutes after local midnight: [start, end); end < start crosses midnight. */
  startMinute: number;
  endMinute: number;
  /** The window as written, for messages (`02:00-05:00`). */
  hours: string;
  timeZone: string;
}

/** A reminder channel's target, as rotor.yaml names it. */
export type UrlRef = { url: string } | { env: string };

export interface EmailChannelSpec {
  /** The environment variable holding the SMTP URL (smtp://user:pass@host:587, smtps://…). */
  smtpUrlEnv: string;
  from: string;
  to: readonly string[];
}

export interface WebhookChannelSpec {
  url: UrlRef;
  /** The environment variable holding the HMAC-SHA256 signing key. */
  keyEnv: string;
}

export interface NotifySpec {
  email?: EmailChannelSpec;
  webhooks: readonly WebhookChannelSpec[];
  /** Offsets before the due date, largest first (`0` = at due). */
  remindersMs: readonly number[];
  /** Repeat while overdue, this often. */
  overdueEveryMs: number;
}

export interface SchedulerSettings {
  /** Further attempts after a failed scheduled rotation. */
  retries: number;
  /** First wait before a retry; doubled after each further failure. */
  backoffMs: number;
}

export const DEFAULT_REMINDERS = ['14d', '1d', '0d'] as const;
export const DEFAULT_OVERDUE_EVERY_MS = MS.d;
export const DEFAULT_SCHEDULER: SchedulerSettings = Object.freeze({
  retries: 3,
  backoffMs: 15 * MS.m,
});

function durationField(options: { allowZero: boolean }) {
  return durationSchema({ example: '14d, 1d, 0d, 15m', positive: !options.allowZero });
}

/** Whether `zone` is an IANA time zone this Node.js knows (Intl decides, as it does the DST rules). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const HOURS = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/;

/** `"02:00-05:00"` → minutes after midnight; `24:00` may end a window. */
export function parseHours(text: string): { startMinute: number; endMinute: number } | undefined {
  const m = HOURS.exec(text);
  if (!m) return undefined;
  const startMinute = Number(m[1]) * 60 + Number(m[2]);
  const endMinute = Number(m[3]) * 60 + Number(m[4]);
  if (endMinute > 24 * 60 || startMinute === endMinute) return undefined;
  return { startMinute, endMinute };
}

const envRef = (what: string) =>
  z.strictObject(
    {
      env: z
        .string()
        .regex(ENV_VAR_NAME, 'an environment variable name')
        .describe(`environment variable holding ${what}`),
    },
    {
      error: `must be { env: VARIABLE_NAME }: the name of the environment variable holding ${what}, never the value itself`,
    },
  );

export const windowSchema = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAYS, { error: `days are ${WEEKDAYS.join(', ')}` }))
      .min(1)
      .optional()
      .describe('local days the window opens on (default: every day)'),
    hours: z
      .string({ error: 'hours is required: local HH:MM-HH:MM, e.g. "02:00-05:00"' })
      .describe('local hours, HH:MM-HH:MM; an end before the start crosses midnight')
      .refine(
        (h) => parseHours(h) !== undefined,
        'hours must be HH:MM-HH:MM (24-hour clock, start and end differ), e.g. "02:00-05:00" or "22:00-02:00"',
      ),
    timezone: z
      .string()
      .optional()
      .describe('IANA time zone, e.g. Europe/Berlin (default UTC)')
      .refine((tz) => tz === undefined || isTimeZone(tz), {
        message: 'unknown time zone: use an IANA name such as Europe/Berlin or UTC',
      }),
  })
  .describe('maintenance window: scheduled rotations of this secret start only inside it');

const EMAIL = /^[^\s@<>,;]+@[^\s@<>,;]+\.[^\s@<>,;]+$/;
const emailAddress = z.string().max(320).regex(EMAIL, 'an e-mail address such as ops@example.com');

function httpUrl(text: string, ctx: z.RefinementCtx): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
  if (url.username || url.password) {
    ctx.addIssue({
      code: 'custom',
      message:
        'a URL with credentials in it does not belong in rotor.yaml: use url: { env: VARIABLE }',
    });
  }
}

const webhookSchema = z.strictObject({
  url: z
    .union([z.string().superRefine(httpUrl), envRef('the webhook URL')], {
      error:
        'url must be an http(s) URL, or { env: VARIABLE } when the URL itself is a secret (a Slack incoming webhook)',
    })
    .describe('where reminders are POSTed (Slack-compatible JSON)'),
  key: envRef('the HMAC-SHA256 signing key').describe(
    'signing key reference; the body is signed like http deploy hooks (x-rotor-signature)',
  ),
});

export const notifySchema = z
  .strictObject({
    email: z
      .strictObject({
        smtp: z.strictObject(
          { url: envRef('the SMTP URL (smtp://user:password@host:587)') },
          { error: 'smtp must be { url: { env: VARIABLE } }' },
        ),
        from: emailAddress.describe('sender address'),
        to: z.array(emailAddress).min(1).max(50).describe('recipients'),
      })
      .optional(),
    webhook: z.array(webhookSchema).max(10).optional(),
    reminders: z
      .array(durationField({ allowZero: true }))
      .min(1)
      .max(20)
      .optional()
      .describe('offsets before the due date (default [14d, 1d, 0d])'),
    overdueEvery: durationField({ allowZero: false })
      .optional()
      .describe('repeat reminders while overdue this often (default 1d)'),
  })
  .describe('reminders for secrets Rotor cannot rotate by itself');

export const schedulerSchema = z
  .strictObject({
    retries: z
      .number({ error: 'retries must be a whole number from 0 to 20' })
      .int('retries must be a whole number from 0 to 20')
      .min(0, 'retries must be a whole number from 0 to 20')
      .max(20, 'retries must be a whole number from 0 to 20')
      .optional()
      .describe('further attempts after a failed scheduled rotation (default 3)'),
    backoff: durationField({ allowZero: false })
      .optional()
      .describe('wait before the first retry, doubled each time (default 15m)'),
  })
  .describe('the scheduler (rotor scheduler, rotor serve)');

/** The per-secret fields, spread into a secret entry's schema. */
export const secretScheduleFields = {
  window: windowSchema.optional(),
  auto: z
    .boolean({
      error: 'auto must be true or false (false: reminders instead of scheduled rotations)',
    })
    .optional()
    .describe('false: never rotate automatically; the scheduler sends reminders instead'),
};

export type WindowInput = z.infer<typeof windowSchema>;
export type NotifyInput = z.infer<typeof notifySchema>;
export type SchedulerInput = z.infer<typeof schedulerSchema>;

export function normalizeWindow(input: WindowInput): MaintenanceWindow {
  const hours = parseHours(input.hours)!;
  return Object.freeze({
    days: Object.freeze([...(input.days ?? WEEKDAYS)]),
    ...hours,
    hours: input.hours,
    timeZone: input.timezone ?? 'UTC',
  });
}

export function normalizeNotify(input: NotifyInput): NotifySpec {
  const reminders = [
    ...new Set((input.reminders ?? [...DEFAULT_REMINDERS]).map(parseDuration)),
  ].sort((a, b) => b - a);
  return Object.freeze({
    ...(input.email
      ? {
          email: Object.freeze({
            smtpUrlEnv: input.email.smtp.url.env,
            from: input.email.from,
            to: Object.freeze([...input.email.to]),
          }),
        }
      : {}),
    webhooks: Object.freeze(
      (input.webhook ?? []).map((w) =>
        Object.freeze({
          url: typeof w.url === 'string' ? { url: w.url } : { env: w.url.env },
          keyEnv: w.key.env,
        }),
      ),
    ),
    remindersMs: Object.freeze(reminders),
    overdueEveryMs: input.overdueEvery
      ? parseDuration(input.overdueEvery)
      : DEFAULT_OVERDUE_EVERY_MS,
  });
}

export function normalizeScheduler(input: SchedulerInput | undefined): SchedulerSettings {
  if (!input) return DEFAULT_SCHEDULER;
  return Object.freeze({
    retries: input.retries ?? DEFAULT_SCHEDULER.retries,
    backoffMs: input.backoff ? parseDuration(input.backoff) : DEFAULT_SCHEDULER.backoffMs,
  });
}

/** The reminder settings when rotor.yaml has no `notify:` block: default offsets, no channel. */
export function defaultNotify(): NotifySpec {
  return normalizeNotify({});
}
