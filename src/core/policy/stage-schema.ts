// rotor.yaml's staged flow for one secret: `deploy` hooks, then `smoke` tests, then `health`
// checks, each a `command`, `http` or `sql` step.
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import { ENV_NAME, ENV_VAR_NAME, SECRET_NAME } from './names.js';

function stepDuration(allowZero: boolean) {
  return z
    .string()
    .describe('a duration such as 30s, 5m')
    .superRefine((text, ctx) => {
      try {
        const ms = parseDuration(text);
        if (!allowZero && ms <= 0)
          ctx.addIssue({ code: 'custom', message: 'must be longer than zero' });
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    });
}

/** Where an HMAC key is read at run time: an environment variable or another Rotor secret. */
const keyRef = z.union(
  [
    z.strictObject({ env: z.string().regex(ENV_VAR_NAME, 'an environment variable name') }),
    z.strictObject({ secret: z.string().regex(SECRET_NAME, 'a secret name from rotor.yaml') }),
  ],
  {
    error:
      'key must be { env: VARIABLE } or { secret: NAME }: a reference to the signing key, never the key itself',
  },
);

const common = {
  name: z.string().min(1).max(100).optional().describe('shown in progress and the audit log'),
  environments: z
    .array(z.string().regex(ENV_NAME))
    .min(1)
    .optional()
    .describe('run only in these environments (default: all)'),
  timeout: stepDuration(false).optional().describe('how long one attempt may take (default 60s)'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(50)
    .optional()
    .describe('further attempts after a failure (default 0)'),
  interval: stepDuration(true).optional().describe('wait between attempts (default 5s)'),
};

const httpTarget = z
  .strictObject({
    url: z
      .string()
      .describe('http(s) URL; {env} is replaced by the environment name')
      .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL'),
    method: z
      .enum(['POST', 'GET'])
      .optional()
      .describe('POST (default) sends a signed JSON body; GET suits health endpoints'),
    key: keyRef.optional().describe('HMAC-SHA256 signing key for POST bodies (required for POST)'),
    expect: z
      .number()
      .int()
      .min(100)
      .max(599)
      .optional()
      .describe('the status that counts as success (default: any 2xx)'),
  })
  .refine((h) => (h.method ?? 'POST') !== 'POST' || h.key !== undefined, {
    message: 'a POST hook must be signed: give key: { env: VARIABLE } or { secret: NAME }',
    path: ['key'],
  });

// One object with the three types as optional members (rather than a union), so a mistake
// inside the chosen type is reported at its own field instead of as "no branch matched".
export const stageStepSchema = z
  .strictObject({
    ...common,
    command: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'program and arguments, run without a shell; the new value is in $ROTOR_SECRET, never on argv',
      ),
    cwd: z
      .string()
      .min(1)
      .optional()
      .describe('working directory of a command, relative to rotor.yaml (default: its directory)'),
    http: httpTarget.optional(),
    sql: z
      .string()
      .min(1)
      .max(10_000)
      .optional()
      .describe('a statement run logged in with the new credential (database kinds only)'),
  })
  .superRefine((step, ctx) => {
    const types = (['command', 'http', 'sql'] as const).filter((t) => step[t] !== undefined);
    if (types.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `a step needs exactly one of command: [argv…], http: { url, … } or sql: "statement" (found ${types.length ? types.join(' and ') : 'none'})`,
      });
    }
    if (step.cwd !== undefined && step.command === undefined)
      ctx.addIssue({ code: 'custom', path: ['cwd'], message: 'cwd applies to command steps only' });
  });

export const stageListSchema = z.array(stageStepSchema).max(20);

export type StageStepInput = z.infer<typeof stageStepSchema>;

export const STAGES_IN_ORDER = ['deploy', 'smoke', 'health'] as const;
export type StageName = (typeof STAGES_IN_ORDER)[number];

/** A normalized step: durations in ms, the type named. */
export type StageStep = {
  stage: StageName;
  name: string;
  environments?: readonly string[];
  timeoutMs: number;
  retries: number;
  intervalMs: number;
} & (
  | { type: 'command'; argv: readonly string[]; cwd?: string }
  | {
      type: 'http';
      url: string;
      method: 'POST' | 'GET';
      key?: { env: string } | { secret: string };
      expect?: number;
    }
  | { type: 'sql'; statement: string }
);

export function normalizeStep(stage: StageName, input: StageStepInput, index: number): StageStep {
  const base = {
    stage,
    timeoutMs: input.timeout ? parseDuration(input.timeout) : 60_000,
    retries: input.retries ?? 0,
    intervalMs: input.interval ? parseDuration(input.interval) : 5_000,
    ...(input.environments ? { environments: Object.freeze([...input.environments]) } : {}),
  };
  if (input.command) {
    return {
      ...base,
      name: input.name ?? `${stage}[${index}] ${input.command[0]}`,
      type: 'command',
      argv: Object.freeze([...input.command]),
      ...(input.cwd ? { cwd: input.cwd } : {}),
    };
  }
  if (input.http) {
    const method = input.http.method ?? 'POST';
    return {
      ...base,
      name: input.name ?? `${stage}[${index}] ${method} ${input.http.url}`,
      type: 'http',
      url: input.http.url,
      method,
      ...(input.http.key ? { key: input.http.key } : {}),
      ...(input.http.expect ? { expect: input.http.expect } : {}),
    };
  }
  return {
    ...base,
    name: input.name ?? `${stage}[${index}] sql`,
    type: 'sql',
    statement: input.sql ?? '',
  };
}
