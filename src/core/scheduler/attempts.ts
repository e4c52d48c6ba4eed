// The scheduler's attempts table: failed scheduled rotations per cadence cycle, with the backoff
// before the next one, so a failing secret is retried a few times and then left to a person.
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';
import { nextAttempt } from './plan-rotations.js';
import type { SchedulerSettings } from '../policy/schedule-schema.js';

export interface ScheduledRotation {
  secret: string;
  environment: string;
  outcome: 'rotated' | 'standby' | 'failed' | 'gave-up';
  /** 1 for the first attempt in this cadence cycle. */
  attempt: number;
  rotationId?: string;
  versionId?: string;
  /** For `failed`: when the next attempt may start. */
  nextAttemptAt?: string;
  error?: { code: string; message: string };
}

/** What a tick's bookkeeping writes with: the store, the clock, who acts, the retry settings. */
export interface AttemptsDeps {
  store: Store;
  clock: Clock;
  actor: Actor;
  settings: SchedulerSettings;
}

export interface FailedAttempt {
  secret: string;
  environment: string;
  cycle: number;
  error: { code: string; message: string };
  rotationId?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Counts a failed attempt; schedules the next one with backoff, or gives up after the retries. */
export async function recordFailure(
  deps: AttemptsDeps,
  failed: FailedAttempt,
): Promise<ScheduledRotation> {
  const { clock, actor, settings } = deps;
  const { secret, environment, cycle, error, rotationId } = failed;
  return deps.store.writeTransaction(async (trx) => {
    const now = clock.now();
    const prior = await trx
      .selectFrom('scheduler_attempts')
      .selectAll()
      .where('secret', '=', secret)
      .where('environment', '=', environment)
      .where('cycle', '=', cycle)
      .executeTakeFirst();
    const { attempt, giveUp, next } = nextAttempt(prior?.attempts ?? 0, settings, now);
    const values = {
      attempts: attempt,
      state: giveUp ? ('failed' as const) : ('retrying' as const),
      last_attempt_at: now,
      next_attempt_at: next,
      last_error: `${error.code}: ${error.message}`.slice(0, 500),
    };
    if (prior) {
      await trx
        .updateTable('scheduler_attempts')
        .set(values)
        .where('secret', '=', secret)
        .where('environment', '=', environment)
        .where('cycle', '=', cycle)
        .execute();
    } else {
      await trx
        .insertInto('scheduler_attempts')
        .values({ secret, environment, cycle, ...values })
        .execute();
    }
    await appendAudit(trx, clock, actor, {
      secret,
      environment,
      action: giveUp ? 'scheduler.gave-up' : 'scheduler.retry',
      outcome: giveUp ? 'failure' : 'info',
      notes: giveUp
        ? `scheduled rotation failed ${attempt} time(s) (${error.code}); no more automatic attempts until it is rotated by hand`
        : `scheduled rotation attempt ${attempt} of ${settings.retries + 1} failed (${error.code}); next attempt from ${iso(next!)}`,
      details: { attempt, error: error.code, rotation: rotationId ?? null },
    });
    return {
      secret,
      environment,
      outcome: giveUp ? 'gave-up' : 'failed',
      attempt,
      ...(rotationId ? { rotationId } : {}),
      ...(next === null ? {} : { nextAttemptAt: iso(next) }),
      error,
    } satisfies ScheduledRotation;
  });
}

/** A scheduled rotation went through: its failed attempts are forgotten. */
export async function clearAttempts(
  store: Store,
  pair: { secret: string; environment: string },
): Promise<void> {
  await store.writeTransaction((trx) =>
    trx
      .deleteFrom('scheduler_attempts')
      .where('secret', '=', pair.secret)
      .where('environment', '=', pair.environment)
      .execute(),
  );
}
