// The normalized, frozen policy the rest of Rotor reads: durations in milliseconds, defaults
// filled in, each kind's config validated by its rotator.
import { normalizeAudit, type AuditSettings } from './checkpoint-schema.js';
import type { AnyRotator } from '../rotator/rotator-contract.js';
import { STAGES_IN_ORDER, normalizeStep, type StageStep } from './stage-schema.js';
import { MS, parseDuration } from '../duration.js';
import { pairedValueIssues } from './paired-values.js';
import { MASTER_KEY_KIND } from '../crypto/master-key-names.js';
import type { RawPolicy } from './policy-schema.js';
import {
  normalizeNotify,
  normalizeScheduler,
  normalizeWindow,
  type MaintenanceWindow,
  type NotifySpec,
  type SchedulerSettings,
} from './schedule-schema.js';

export interface Cadence {
  targetMs: number;
  maxMs: number;
  warnMs: number;
}

export interface SecretSpec {
  name: string;
  kind: string;
  cadence: Cadence;
  graceMs: number;
  owner?: string;
  notes?: string;
  environments: string[];
  config: unknown;
  /** deploy hooks, smoke tests and health checks, in the order they run after a promotion. */
  stages: readonly StageStep[];
  /** Scheduled rotations start only inside this window (rotor.yaml `window:`). */
  window?: MaintenanceWindow;
  /** `false`: never rotated by the scheduler, which sends reminders instead (rotor.yaml `auto: false`). */
  auto?: false;
  /** The largest value accepted, in bytes (rotor.yaml `maxBytes:`; default 64 KiB). */
  maxBytes?: number;
}

/** The app's session store (rotor/tokens), as rotor.yaml `sessions:` names it. */
export interface SessionsSpec {
  store: 'postgres' | 'redis';
  /** The environment variable holding the connection URL. */
  urlEnv: string;
  prefix: string;
  /** Environments whose sessions live in this store. */
  environments: readonly string[];
}

export interface Policy {
  environments: readonly string[];
  secrets: ReadonlyMap<string, SecretSpec>;
  sessions?: SessionsSpec;
  /** Reminder channels and offsets (rotor.yaml `notify:`). */
  notify?: NotifySpec;
  /** Retries and backoff of scheduled rotations (rotor.yaml `scheduler:`, defaults filled in). */
  scheduler?: SchedulerSettings;
  /** Signed checkpoints of the audit chain (rotor.yaml `audit:`). */
  audit?: AuditSettings;
}

export const DEFAULT_GRACE_MS = 24 * MS.h;
export const DEFAULT_WARN_MS = 14 * MS.d;

export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

/** Turns a schema-valid document into a Policy; returns config issues instead of throwing. */
export function normalizePolicy(
  raw: RawPolicy,
  rotators: readonly AnyRotator[],
): { policy?: Policy; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const byKind = new Map(rotators.map((r) => [r.kind, r]));
  const envSet = new Set<string>();
  raw.environments.forEach((env, i) => {
    if (envSet.has(env))
      issues.push({ path: ['environments', i], message: `environment "${env}" is listed twice` });
    envSet.add(env);
  });
  const secrets = new Map<string, SecretSpec>();
  const defaultGrace = raw.defaults?.grace ? parseDuration(raw.defaults.grace) : DEFAULT_GRACE_MS;
  const defaultWarn = raw.defaults?.warn ? parseDuration(raw.defaults.warn) : DEFAULT_WARN_MS;
  for (const [name, entry] of Object.entries(raw.secrets)) {
    const base = ['secrets', name];
    if (name.endsWith('_PREVIOUS') && raw.secrets[name.slice(0, -'_PREVIOUS'.length)]) {
      issues.push({
        path: base,
        message: `"${name}" would collide with the previous value of ${name.slice(0, -9)} during its grace window`,
      });
    }
    const c = typeof entry.cadence === 'string' ? { target: entry.cadence } : entry.cadence;
    const targetMs = parseDuration(c.target);
    const maxMs = c.max ? parseDuration(c.max) : targetMs;
    const warnMs = c.warn ? parseDuration(c.warn) : defaultWarn;
    if (targetMs <= 0)
      issues.push({ path: [...base, 'cadence'], message: 'cadence must be longer than zero' });
    if (maxMs < targetMs)
      issues.push({
        path: [...base, 'cadence', 'max'],
        message: `max (${c.max}) is shorter than target (${c.target})`,
      });
    const environments = entry.environments ?? [...raw.environments];
    entry.environments?.forEach((env, i) => {
      if (!envSet.has(env))
        issues.push({
          path: [...base, 'environments', i],
          message: `unknown environment "${env}" (not in environments:)`,
        });
    });
    let config: unknown = entry.config ?? undefined;
    if (entry.kind !== MASTER_KEY_KIND) {
      const rotator = byKind.get(entry.kind);
      const parsed = rotator?.configSchema.safeParse(entry.config ?? undefined);
      if (parsed && !parsed.success) {
        for (const issue of parsed.error.issues) {
          issues.push({
            path: [
              ...base,
              'config',
              ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
            ],
            message: issue.message,
          });
        }
      } else if (parsed) {
        config = parsed.data;
      }
    }
    // `onRotate: invalidate` (jwt-hmac, for refresh-token keys): tokens signed by the previous
    // key stop working at the rotation, so there is no grace window to keep it for; any
    // `grace:` is overridden. The previous version is retired by the next `rotor retire`.
    const invalidates = (config as { onRotate?: unknown } | undefined)?.onRotate === 'invalidate';
    const stages: StageStep[] = [];
    for (const stage of STAGES_IN_ORDER) {
      entry[stage]?.forEach((input, i) => {
        const step = normalizeStep(stage, input, i);
        step.environments?.forEach((env, j) => {
          if (!environments.includes(env))
            issues.push({
              path: [...base, stage, i, 'environments', j],
              message: `"${env}" is not an environment of ${name}`,
            });
        });
        if (step.type === 'sql' && !byKind.get(entry.kind)?.runSql) {
          issues.push({
            path: [...base, stage, i, 'sql'],
            message: `sql steps need a database kind (postgres, mysql), not ${entry.kind}`,
          });
        }
        if (
          step.type === 'http' &&
          step.key &&
          'secret' in step.key &&
          !raw.secrets[step.key.secret]
        ) {
          issues.push({
            path: [...base, stage, i, 'http', 'key', 'secret'],
            message: `unknown secret "${step.key.secret}" (not in rotor.yaml)`,
          });
        }
        stages.push(step);
      });
    }
    secrets.set(name, {
      name,
      kind: entry.kind,
      cadence: { targetMs, maxMs, warnMs },
      graceMs: invalidates ? 0 : entry.grace ? parseDuration(entry.grace) : defaultGrace,
      ...(entry.owner === undefined ? {} : { owner: entry.owner }),
      ...(entry.notes === undefined ? {} : { notes: entry.notes }),
      environments: entry.kind === MASTER_KEY_KIND ? ['*'] : environments,
      config,
      stages: Object.freeze(stages),
      ...(entry.window ? { window: normalizeWindow(entry.window) } : {}),
      ...(entry.auto === false ? { auto: false as const } : {}),
      ...(entry.maxBytes === undefined ? {} : { maxBytes: entry.maxBytes }),
    });
  }
  let sessions: SessionsSpec | undefined;
  if (raw.sessions) {
    raw.sessions.environments?.forEach((env, i) => {
      if (!envSet.has(env))
        issues.push({
          path: ['sessions', 'environments', i],
          message: `unknown environment "${env}" (not in environments:)`,
        });
    });
    sessions = Object.freeze({
      store: raw.sessions.store,
      urlEnv: raw.sessions.url.env,
      prefix: raw.sessions.prefix ?? 'rotor',
      environments: Object.freeze([...(raw.sessions.environments ?? raw.environments)]),
    });
  }
  issues.push(...pairedValueIssues(raw));
  if (issues.length > 0) return { issues };
  const notify = raw.notify ? normalizeNotify(raw.notify) : undefined;
  const scheduler = raw.scheduler ? normalizeScheduler(raw.scheduler) : undefined;
  const audit = raw.audit ? normalizeAudit(raw.audit) : undefined;
  return {
    policy: Object.freeze({
      environments: Object.freeze([...raw.environments]),
      secrets,
      ...(sessions ? { sessions } : {}),
      ...(notify ? { notify } : {}),
      ...(scheduler ? { scheduler } : {}),
      ...(audit ? { audit } : {}),
    }),
    issues,
  };
}
