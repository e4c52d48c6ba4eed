// What a scheduler tick should rotate, and why the rest waits: a pure function of the status
// rows, the attempts already made this cadence cycle, the policy and the time. No I/O.
import type { Selectable } from 'kysely';
import type { SecretSpec } from '../policy/policy.js';
import { MASTER_KEY_KIND } from '../crypto/master-key-names.js';
import type { StatusRow } from '../status/status.js';
import type { SchedulerAttemptsTable } from '../store/schema.js';
import { describeWindow, insideWindow, nextWindowStart } from './maintenance-window.js';

export type AttemptRow = Selectable<SchedulerAttemptsTable>;

/** Why a secret is a person's job rather than the scheduler's. */
export type ManualReason = 'master-key' | 'operator' | 'auto-disabled';

export type PlannedSpec = Pick<SecretSpec, 'kind' | 'auto' | 'window'>;

export interface PlanPolicy {
  /** Policy order: due environments of a secret are rotated in it. */
  environments: readonly string[];
  secrets: ReadonlyMap<string, PlannedSpec>;
  /** Automatic retries after a failed scheduled attempt (rotor.yaml `scheduler.retries`). */
  retries: number;
  /** Kinds whose rotator makes new values itself (source `generated`). */
  generatedKinds: ReadonlySet<string>;
}

export interface WaitingRotation {
  secret: string;
  environment: string;
  reason: 'outside-window' | 'backoff' | 'gave-up' | 'busy' | 'skipped';
  /** When it may go ahead (window opens, backoff ends). */
  until?: string;
  detail: string;
}

export interface PlannedRotation {
  secret: string;
  /** The due environments, in policy order: one `rotate` over them. */
  environments: string[];
  /** Per environment: its cadence cycle (when the current value was rotated) and attempts made in it. */
  cycles: Map<string, { cycle: number; attempts: number }>;
}

export interface RotationPlan {
  rotate: PlannedRotation[];
  waiting: WaitingRotation[];
}

/** Undefined when the scheduler rotates the secret by itself, else why a person must. */
export function manualReason(
  spec: PlannedSpec,
  generatedKinds: ReadonlySet<string>,
): ManualReason | undefined {
  if (spec.kind === MASTER_KEY_KIND) return 'master-key';
  if (!generatedKinds.has(spec.kind)) return 'operator';
  if (spec.auto === false) return 'auto-disabled';
  return undefined;
}

/** The key of an attempt row: one per secret, environment and cadence cycle. */
export function attemptKey(secret: string, environment: string, cycle: number | null): string {
  return `${secret}\0${environment}\0${cycle}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Due and overdue rows of automatic secrets are rotated, unless a rotation runs or waits in
 * standby, the scheduler gave up on this cycle, a retry is backing off, or the maintenance
 * window is closed; those are reported as waiting (except standby, which resume promotes).
 *
 * @example
 * const plan = planRotations(status.rows, attempts, { ...policy, retries: 3, generatedKinds }, now);
 * plan.rotate[0]; // { secret: 'SESSION_SECRET', environments: ['staging', 'production'], … }
 */
export function planRotations(
  rows: readonly StatusRow[],
  attempts: readonly AttemptRow[],
  policy: PlanPolicy,
  now: number,
): RotationPlan {
  const tried = new Map(attempts.map((a) => [attemptKey(a.secret, a.environment, a.cycle), a]));
  const waiting: WaitingRotation[] = [];
  const eligible = new Map<string, StatusRow[]>();
  for (const row of rows) {
    const spec = policy.secrets.get(row.secret);
    if (!spec || manualReason(spec, policy.generatedKinds) !== undefined) continue;
    if (row.ageState !== 'due' && row.ageState !== 'overdue') continue;
    if (row.rotation?.state === 'waiting') continue; // a standby version: resume promotes it
    const attempt = tried.get(attemptKey(row.secret, row.environment, row.rotatedAt));
    const wait = whyWait({ row, spec, attempt, retries: policy.retries }, now);
    if (wait) {
      waiting.push(wait);
      continue;
    }
    const list = eligible.get(row.secret) ?? [];
    list.push(row);
    eligible.set(row.secret, list);
  }
  const rotate = [...eligible].map(([secret, due]) => ({
    secret,
    environments: policy.environments.filter((e) => due.some((r) => r.environment === e)),
    cycles: new Map(
      due.map((r) => {
        const cycle = r.rotatedAt ?? 0;
        const prior = tried.get(attemptKey(secret, r.environment, cycle));
        return [r.environment, { cycle, attempts: prior?.attempts ?? 0 }];
      }),
    ),
  }));
  return { rotate, waiting };
}

/** Why a due row does not rotate this tick, or undefined when it does. */
function whyWait(
  due: { row: StatusRow; spec: PlannedSpec; attempt: AttemptRow | undefined; retries: number },
  now: number,
): WaitingRotation | undefined {
  const { row, spec, attempt } = due;
  const base = { secret: row.secret, environment: row.environment };
  if (row.rotation?.state === 'running')
    return { ...base, reason: 'busy', detail: `rotation ${row.rotation.id} is running` };
  if (attempt?.state === 'failed') {
    return {
      ...base,
      reason: 'gave-up',
      detail: `gave up after ${attempt.attempts} failed attempt(s): ${attempt.last_error ?? ''}; rotate it by hand`,
    };
  }
  if (attempt && attempt.next_attempt_at !== null && attempt.next_attempt_at > now) {
    return {
      ...base,
      reason: 'backoff',
      until: iso(attempt.next_attempt_at),
      detail: `attempt ${attempt.attempts + 1} of ${due.retries + 1} from ${iso(attempt.next_attempt_at)}`,
    };
  }
  if (!insideWindow(spec.window, now)) {
    const opens = nextWindowStart(spec.window!, now);
    return {
      ...base,
      reason: 'outside-window',
      ...(opens === undefined ? {} : { until: iso(opens) }),
      detail: `maintenance window ${describeWindow(spec.window!)}`,
    };
  }
  return undefined;
}

/**
 * The attempt after a failure: the next one backs off exponentially from `backoffMs`; after
 * `retries` retries the scheduler gives up on this cycle (`next` is null).
 */
export function nextAttempt(
  prior: number,
  settings: { retries: number; backoffMs: number },
  now: number,
): { attempt: number; giveUp: boolean; next: number | null } {
  const attempt = prior + 1;
  const giveUp = attempt > settings.retries;
  return { attempt, giveUp, next: giveUp ? null : now + settings.backoffMs * 2 ** (attempt - 1) };
}
