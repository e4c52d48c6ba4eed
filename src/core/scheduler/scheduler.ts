// The scheduler keeps secrets rotated without a person at a terminal: one `tick()` is one
// deterministic pass over the store (its steps: docs/rotor-yaml.md, "Scheduler and reminders").
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Rotor } from '../context.js';
import { RotorError, isRotorError } from '../errors.js';
import {
  createRotationEngine,
  type EnvironmentResult,
  type ResumeOutcome,
  type RetiredVersion,
  type RotationEngine,
} from '../rotation/rotation-engine.js';
import { errorInfo } from '../rotation/rotation-run.js';
import { computeStatus } from '../status/status.js';
import type { Store } from '../store/open-store.js';
import { createNotifier } from '../notify/notifier.js';
import type { Notifier } from '../notify/notify-channel.js';
import {
  clearAttempts,
  recordFailure,
  type AttemptsDeps,
  type ScheduledRotation,
} from './attempts.js';
import { createLeaderLease, type LeaderLease } from './leader-lease.js';
import { planRotations, type PlannedRotation, type WaitingRotation } from './plan-rotations.js';
import { sendReminders, type ReminderDelivery } from './reminders.js';
import {
  DEFAULT_SCHEDULER,
  defaultNotify,
  type SchedulerSettings,
} from '../policy/schedule-schema.js';

export type { ScheduledRotation } from './attempts.js';
export type { WaitingRotation } from './plan-rotations.js';
export { REMINDER_CLAIM_MS, type ReminderDelivery } from './reminders.js';

/** Lease of a scheduler driven by `tick()` alone (cron, tests): it is renewed only by ticks. */
export const DEFAULT_LEASE_MS = 5 * 60_000;
/**
 * Lease of a running scheduler (`start()`), renewed every LEASE_RENEW_MS by its own timer whatever
 * the tick interval: a leader that dies is replaced within TTL + one renewal (about 13 s).
 */
export const LEASE_TTL_MS = 10_000;
export const LEASE_RENEW_MS = 3_000;

export interface SchedulerDeps {
  rotor: Rotor;
  /** Default: createRotationEngine({ rotor }). */
  engine?: RotationEngine;
  /** Default: rotor.clock (keep them the same: the engine uses rotor.clock). */
  clock?: Clock;
  /** Default: the channels of rotor.yaml `notify:`. */
  notifier?: Notifier;
  /** Default: rotor.logger. */
  logger?: Logger;
  /** Audited as the operator of everything the scheduler does (default `rotor-scheduler`). */
  operator?: string;
  /** How long leadership lasts without renewal (default: DEFAULT_LEASE_MS, LEASE_TTL_MS in `start()`). */
  leaseMs?: number;
  /** How often `start()` renews the lease, or tries to take it (default LEASE_RENEW_MS). */
  renewMs?: number;
  /** Runs at the start of every tick (`rotor serve` loads the store's applied policy here). */
  beforeTick?(): void | Promise<void>;
}

export interface SchedulerReport {
  /** When the tick started (ISO). */
  at: string;
  /** Audited on every row this tick wrote. */
  requestId: string;
  /** False when another scheduler holds the lease; nothing else was done. */
  leader: boolean;
  leaderHeldBy?: { pid: number; host: string; until: string };
  resumed: ResumeOutcome[];
  retired: RetiredVersion[];
  rotations: ScheduledRotation[];
  waiting: WaitingRotation[];
  reminders: ReminderDelivery[];
  /** A phase that could not run (the store was unreachable, leadership was lost). */
  errors: { phase: string; code: string; message: string }[];
}

export interface StartOptions {
  intervalMs: number;
  /** Called with every tick's report (also when not the leader). */
  onReport?(report: SchedulerReport): void;
  /** Called when a tick fails outright; the loop goes on. */
  onError?(error: unknown): void;
}

export interface Scheduler {
  /** One pass; resolves with what it did. Concurrent calls run one after the other. */
  tick(): Promise<SchedulerReport>;
  /** Runs a tick now and then every `intervalMs` (after each tick ends) until `stop()`. */
  start(options: StartOptions): void;
  /**
   * Ends the loop, gives up leadership at once (another instance may lead while a running tick
   * finishes: rotation locks keep them apart), then waits for that tick. Safe to call twice.
   */
  stop(): Promise<void>;
  readonly running: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The scheduler over one Rotor instance.
 *
 * @example
 * const scheduler = createScheduler({ rotor });
 * const report = await scheduler.tick();           // once (cron, tests)
 * scheduler.start({ intervalMs: 60_000 });         // or as a loop, until
 * await scheduler.stop();
 */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { rotor } = deps;
  const clock = deps.clock ?? rotor.clock;
  const logger = deps.logger ?? rotor.logger;
  const engine = deps.engine ?? createRotationEngine({ rotor });
  const operator = deps.operator ?? 'rotor-scheduler';
  let leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  let lease: LeaderLease | undefined;
  let notifier = deps.notifier;
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let renewal: NodeJS.Timeout | undefined;
  let looping = false;
  let draining = false;
  let kick: (() => void) | undefined;
  /** What the last acquire said (for the log lines of a running scheduler). */
  let leading = false;

  function leaseFor(store: Store): LeaderLease {
    lease ??= createLeaderLease(store, clock);
    return lease;
  }

  async function runTick(): Promise<SchedulerReport> {
    await deps.beforeTick?.();
    const actor: Actor = { operator, requestId: randomUUID(), method: 'scheduled' };
    const report = emptyReport(iso(clock.now()), actor.requestId);
    const store = await rotor.store();
    const leader = leaseFor(store);
    if (draining || !(await take(leader))) {
      const held = await leader.holder();
      if (held)
        report.leaderHeldBy = { pid: held.pid, host: held.host, until: iso(held.expiresAt) };
      logger.debug({ requestId: actor.requestId }, 'scheduler: another scheduler is the leader');
      return report;
    }
    report.leader = true;
    notifier ??= createNotifier(rotor.policy().notify, { env: rotor.env });
    // A lease of 0 ms (tests of two leaders at once) is renewed before each phase and no more.
    const stillLeading = () => !draining && (leaseMs <= 0 || leader.held());
    const tick: Tick = {
      rotor,
      engine,
      store,
      clock,
      logger,
      actor,
      report,
      leading: stillLeading,
    };
    await runPhases(tick, { leader, leaseMs, notifier });
    logTick(logger, report);
    return report;
  }

  /** Takes or renews the lease; a running scheduler logs when leadership comes or goes. */
  async function take(leader: LeaderLease): Promise<boolean> {
    const won = await leader.acquire(leaseMs);
    if (looping && !draining && won !== leading) {
      if (won) logger.info({ pid: process.pid }, 'scheduler: this instance is now the leader');
      else logger.warn('scheduler: leadership lost; no further scheduler step runs here');
    }
    const gained = won && !leading;
    leading = won;
    // Taken between ticks: a tick starts now, not at the end of the interval.
    if (gained && looping && !draining) kick?.();
    return won;
  }

  const scheduler: Scheduler = {
    tick() {
      const next = chain.then(runTick);
      chain = next.catch(() => undefined);
      return next;
    },
    start(options) {
      if (looping)
        throw new RotorError('ERR_ROTOR_SCHEDULER_RUNNING', 'the scheduler is already running');
      if (!Number.isFinite(options.intervalMs) || options.intervalMs < 1000) {
        throw new RotorError(
          'ERR_ROTOR_INVALID_ARGUMENT',
          'the scheduler interval must be at least 1s',
        );
      }
      looping = true;
      // A short lease on its own timer: failover does not wait for the tick interval.
      leaseMs = deps.leaseMs ?? LEASE_TTL_MS;
      const renewMs = Math.max(100, Math.min(deps.renewMs ?? LEASE_RENEW_MS, leaseMs / 3));
      const loop = async () => {
        timer = undefined;
        try {
          const report = await scheduler.tick();
          options.onReport?.(report);
        } catch (error) {
          if (options.onError) options.onError(error);
          else logger.error({ code: errorInfo(error).code }, 'scheduler tick failed');
        }
        if (looping) timer = setTimeout(() => void loop(), options.intervalMs);
      };
      // Taking the lease between ticks starts a tick now, not at the end of the interval.
      kick = () => {
        if (!looping || !timer) return;
        clearTimeout(timer);
        timer = setTimeout(() => void loop(), 0);
      };
      const renewLoop = async () => {
        await rotor
          .store()
          .then((store) => take(leaseFor(store)))
          .catch((error: unknown) =>
            logger.warn(
              { code: errorInfo(error).code },
              'scheduler: could not renew the leader lease',
            ),
          );
        if (looping) renewal = setTimeout(() => void renewLoop(), renewMs);
      };
      renewal = setTimeout(() => void renewLoop(), renewMs);
      timer = setTimeout(() => void loop(), 0);
    },
    async stop() {
      looping = false;
      draining = true;
      kick = undefined;
      if (timer) clearTimeout(timer);
      if (renewal) clearTimeout(renewal);
      timer = renewal = undefined;
      try {
        // Leadership goes first, so another instance takes over while a running tick finishes.
        if (lease) await lease.release().catch(() => undefined);
        await chain;
        // A tick that was waiting on its timer may have started meanwhile; wait for it too.
        await chain;
        if (lease) await lease.release().catch(() => undefined);
        await notifier?.close();
      } finally {
        draining = false;
        leading = false;
      }
    },
    get running() {
      return looping;
    },
  };
  return scheduler;
}

function emptyReport(at: string, requestId: string): SchedulerReport {
  return {
    at,
    requestId,
    leader: false,
    resumed: [],
    retired: [],
    rotations: [],
    waiting: [],
    reminders: [],
    errors: [],
  };
}

/** What the phases of one tick share. */
interface Tick {
  rotor: Rotor;
  engine: RotationEngine;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Audited as the actor of everything the tick does. */
  actor: Actor;
  report: SchedulerReport;
  /** Whether this tick may still act: the lease is surely ours and the scheduler is not stopping. */
  leading(): boolean;
}

/**
 * Resume, retire, rotate, remind. Leadership is renewed before each phase; a phase that fails
 * is reported and the next runs, but a scheduler that lost the lease stops at once.
 */
async function runPhases(
  tick: Tick,
  lead: { leader: LeaderLease; leaseMs: number; notifier: Notifier },
): Promise<void> {
  const { report } = tick;
  const policy = tick.rotor.policy();
  const settings: SchedulerSettings = policy.scheduler ?? DEFAULT_SCHEDULER;
  const phase = async (name: string, fn: () => Promise<void>): Promise<boolean> => {
    let renewed: boolean;
    try {
      renewed = tick.leading() && (await lead.leader.acquire(lead.leaseMs));
    } catch (error) {
      // Leadership cannot be confirmed (the store is unreachable): the tick ends here.
      report.errors.push({ phase: name, ...errorInfo(error) });
      return false;
    }
    // Not renewed, or renewed but too late to be sure: another scheduler may lead by now.
    if (!renewed || !tick.leading()) {
      report.errors.push({
        phase: name,
        code: 'ERR_ROTOR_LOCK_HELD',
        message: 'leadership was lost (or the scheduler is stopping) during the tick',
      });
      return false;
    }
    try {
      await fn();
    } catch (error) {
      const info = errorInfo(error);
      report.errors.push({ phase: name, ...info });
      tick.logger.warn(
        { phase: name, code: info.code, requestId: tick.actor.requestId },
        'scheduler phase failed',
      );
    }
    return true;
  };
  const go =
    (await phase('resume', async () => {
      report.resumed = await tick.engine.resume(tick.actor);
    })) &&
    (await phase('retire', () => retireDue(tick))) &&
    (await phase('rotate', () => rotateDue(tick, settings)));
  if (go) {
    await phase('remind', async () => {
      const status = await computeStatus(tick.store, { now: tick.clock.now() });
      report.reminders.push(
        ...(await sendReminders(tick, {
          rows: status.rows,
          secrets: tick.rotor.policy().secrets,
          notify: policy.notify ?? defaultNotify(),
          channels: lead.notifier.channels,
          generatedKinds: generatedKinds(tick.rotor),
        })),
      );
    });
  }
}

/** Kinds whose rotator makes new values itself: the scheduler rotates those on its own. */
function generatedKinds(rotor: Pick<Rotor, 'rotators'>): Set<string> {
  return new Set(rotor.rotators.filter((r) => r.source === 'generated').map((r) => r.kind));
}

/** Retires per secret × environment, so one busy lock or failing revoke does not hold up the rest. */
async function retireDue(tick: Tick): Promise<void> {
  const { store, report } = tick;
  const due = await store.db
    .selectFrom('versions')
    .select(['secret', 'environment'])
    .distinct()
    .where('stage', '=', 'previous')
    .where('retire_at', '<=', tick.clock.now())
    .orderBy('secret')
    .orderBy('environment')
    .execute();
  const secrets = tick.rotor.policy().secrets;
  for (const pair of due) {
    if (!tick.leading()) return;
    if (!secrets.has(pair.secret)) continue;
    try {
      report.retired.push(
        ...(await tick.engine.retire(tick.actor, {
          secret: pair.secret,
          environment: pair.environment,
        })),
      );
    } catch (error) {
      const info = errorInfo(error);
      report.errors.push({
        phase: 'retire',
        code: info.code,
        message: `${pair.secret}/${pair.environment}: ${info.message}`,
      });
    }
  }
}

/** Rotates what planRotations says is due, one `rotate` per secret over its due environments. */
async function rotateDue(tick: Tick, settings: SchedulerSettings): Promise<void> {
  const now = tick.clock.now();
  const status = await computeStatus(tick.store, { now });
  const attempts = await tick.store.db.selectFrom('scheduler_attempts').selectAll().execute();
  const policy = tick.rotor.policy();
  const plan = planRotations(
    status.rows,
    attempts,
    {
      environments: policy.environments,
      secrets: policy.secrets,
      retries: settings.retries,
      generatedKinds: generatedKinds(tick.rotor),
    },
    now,
  );
  tick.report.waiting.push(...plan.waiting);
  const bookkeeping: AttemptsDeps = { ...tick, settings };
  for (const planned of plan.rotate) {
    // A rotation is not started once the lease may have passed to another scheduler.
    if (!tick.leading()) return;
    await rotatePlanned(tick, planned, bookkeeping);
  }
}

async function rotatePlanned(
  tick: Tick,
  planned: PlannedRotation,
  bookkeeping: AttemptsDeps,
): Promise<void> {
  const { secret, environments: order } = planned;
  const { report } = tick;
  let result;
  try {
    result = await tick.engine.rotate(tick.actor, {
      secret,
      environments: order,
      method: 'scheduled',
    });
  } catch (error) {
    if (
      isRotorError(error, 'ERR_ROTOR_LOCK_HELD') ||
      isRotorError(error, 'ERR_ROTOR_ROTATION_IN_PROGRESS')
    ) {
      const detail = errorInfo(error).message;
      for (const environment of order)
        report.waiting.push({ secret, environment, reason: 'busy', detail });
      return;
    }
    // Refused before anything ran (not applied, wrong master key): counts as an attempt.
    const environment = order[0]!;
    const { cycle } = planned.cycles.get(environment)!;
    report.rotations.push(
      await recordFailure(bookkeeping, { secret, environment, cycle, error: errorInfo(error) }),
    );
    return;
  }
  for (const r of result.results) await recordOutcome(tick, { planned, result: r, bookkeeping });
}

/** What one environment's rotation did, in the report and the attempts table. */
async function recordOutcome(
  tick: Tick,
  outcome: { planned: PlannedRotation; result: EnvironmentResult; bookkeeping: AttemptsDeps },
): Promise<void> {
  const { planned, result: r } = outcome;
  const { report } = tick;
  const base = { secret: planned.secret, environment: r.environment };
  const cycle = planned.cycles.get(r.environment)!;
  if (r.outcome === 'succeeded' || r.outcome === 'standby') {
    await clearAttempts(tick.store, base);
    report.rotations.push({
      ...base,
      outcome: r.outcome === 'succeeded' ? 'rotated' : 'standby',
      attempt: cycle.attempts + 1,
      rotationId: r.rotationId,
      ...(r.versionId ? { versionId: r.versionId } : {}),
    });
  } else if (r.outcome === 'failed') {
    const error = r.error ?? { code: 'ERR_ROTOR_ROTATION_FAILED', message: 'failed' };
    report.rotations.push(
      await recordFailure(outcome.bookkeeping, {
        ...base,
        cycle: cycle.cycle,
        error,
        rotationId: r.rotationId,
      }),
    );
  } else if (r.outcome === 'skipped') {
    report.waiting.push({
      ...base,
      reason: 'skipped',
      detail: 'an earlier environment failed; it goes after it succeeds',
    });
  } else {
    report.waiting.push({
      ...base,
      reason: 'busy',
      detail: r.promoteAfter ? `standby until ${r.promoteAfter}` : r.outcome,
    });
  }
}

function logTick(logger: Logger, report: SchedulerReport): void {
  const counts = {
    resumed: report.resumed.length,
    retired: report.retired.length,
    rotations: report.rotations.length,
    reminders: report.reminders.length,
    errors: report.errors.length,
  };
  // An idle tick every minute is not worth an info line in `rotor serve`'s log.
  const busy = Object.values(counts).some((n) => n > 0);
  logger[busy ? 'info' : 'debug']({ requestId: report.requestId, ...counts }, 'scheduler tick');
}
