// The scheduler: what keeps secrets rotated without a person at a terminal. One `tick()` is one
// deterministic pass over the store, in this order:
//   1. finish or roll back interrupted rotations (engine.resume), and promote standby keys;
//   2. retire previous versions whose grace has passed (postponed ones are tried next tick);
//   3. rotate what is due (at or after its target age) and can rotate by itself (a `generated`
//      kind without `auto: false`), method `scheduled`, inside its maintenance window;
//   4. retry failed scheduled rotations with exponential backoff, giving up after the retries
//      (the failed rotation already makes `rotor check` CRITICAL);
//   5. remind people of the rest (manual kinds, `auto: false`, the master key, and what the
//      scheduler gave up on) at the configured offsets, each slot once per channel (a unique
//      key in the store), each delivery audited.
// Only the holder of the leader lease acts; `start()` runs ticks on real timers until `stop()`.
// The scheduler reads names, dates and policy text, never a value.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Rotor } from '../context.js';
import { RotorError, isRotorError } from '../errors.js';
import type { SecretSpec } from '../policy/policy.js';
import { MASTER_KEY_KIND } from '../policy/policy-schema.js';
import {
  createRotationEngine,
  type ResumeOutcome,
  type RetiredVersion,
  type RotationEngine,
} from '../rotation/rotation-engine.js';
import { computeStatus, type StatusRow } from '../status/status.js';
import type { Store } from '../store/open-store.js';
import { createNotifier } from '../notify/notifier.js';
import type { Notifier, NotifyChannel } from '../notify/notify-channel.js';
import { reminderMessage, type Reminder } from '../notify/reminder-message.js';
import { createLeaderLease, type LeaderLease } from './leader-lease.js';
import { describeWindow, insideWindow, nextWindowStart } from './maintenance-window.js';
import { currentReminderSlot } from './reminder-slots.js';
import {
  DEFAULT_SCHEDULER,
  defaultNotify,
  type NotifySpec,
  type SchedulerSettings,
} from '../policy/schedule-schema.js';

/** A claimed reminder not marked sent or failed within this long was lost with its process: claim it again. */
export const REMINDER_CLAIM_MS = 10 * 60_000;
/** Lease of a scheduler driven by `tick()` alone (`start()` uses three intervals, at least this). */
export const DEFAULT_LEASE_MS = 5 * 60_000;

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
  /** How long leadership lasts without renewal. */
  leaseMs?: number;
  /** Runs at the start of every tick (`rotor serve` loads the store's applied policy here). */
  beforeTick?(): void;
}

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

export interface WaitingRotation {
  secret: string;
  environment: string;
  reason: 'outside-window' | 'backoff' | 'gave-up' | 'busy' | 'skipped';
  /** When it may go ahead (window opens, backoff ends). */
  until?: string;
  detail: string;
}

export interface ReminderDelivery {
  secret: string;
  environment: string;
  slot: string;
  channel: string;
  target: string;
  outcome: 'sent' | 'failed' | 'no-channel';
  error?: { code: string; message: string };
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
  /** Ends the loop, waits for a running tick, gives up leadership. Safe to call twice. */
  stop(): Promise<void>;
  readonly running: boolean;
}

type ManualReason = Reminder['reason'];

function errorInfo(error: unknown): { code: string; message: string } {
  if (isRotorError(error)) return { code: error.code, message: error.message };
  return {
    code: 'ERR_ROTOR_ROTATION_FAILED',
    message: error instanceof Error ? error.message : String(error),
  };
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
  let looping = false;

  function automatic(spec: SecretSpec): ManualReason | undefined {
    if (spec.kind === MASTER_KEY_KIND) return 'master-key';
    const rotator = rotor.rotators.find((r) => r.kind === spec.kind);
    if (!rotator || rotator.source !== 'generated') return 'operator';
    if (spec.auto === false) return 'auto-disabled';
    return undefined;
  }

  function leaseFor(store: Store): LeaderLease {
    lease ??= createLeaderLease(store, clock);
    return lease;
  }

  async function runTick(): Promise<SchedulerReport> {
    deps.beforeTick?.();
    const started = clock.now();
    const actor: Actor = { operator, requestId: randomUUID(), method: 'scheduled' };
    const report: SchedulerReport = {
      at: iso(started),
      requestId: actor.requestId,
      leader: false,
      resumed: [],
      retired: [],
      rotations: [],
      waiting: [],
      reminders: [],
      errors: [],
    };
    const store = await rotor.store();
    const leader = leaseFor(store);
    if (!(await leader.acquire(leaseMs))) {
      const held = await leader.holder();
      if (held)
        report.leaderHeldBy = { pid: held.pid, host: held.host, until: iso(held.expiresAt) };
      logger.debug({ requestId: actor.requestId }, 'scheduler: another scheduler is the leader');
      return report;
    }
    report.leader = true;
    const policy = rotor.policy();
    const settings: SchedulerSettings = policy.scheduler ?? DEFAULT_SCHEDULER;
    const notify: NotifySpec = policy.notify ?? defaultNotify();
    notifier ??= createNotifier(policy.notify, { env: rotor.env });

    // Leadership is renewed before each phase; a phase that fails is reported and the next runs,
    // but a scheduler that lost the lease stops at once.
    const phase = async (name: string, fn: () => Promise<void>): Promise<boolean> => {
      try {
        if (!(await leader.acquire(leaseMs))) {
          report.errors.push({
            phase: name,
            code: 'ERR_ROTOR_LOCK_HELD',
            message: 'leadership was lost to another scheduler during the tick',
          });
          return false;
        }
        await fn();
      } catch (error) {
        const info = errorInfo(error);
        report.errors.push({ phase: name, ...info });
        logger.warn(
          { phase: name, code: info.code, requestId: actor.requestId },
          'scheduler phase failed',
        );
      }
      return true;
    };

    const go =
      (await phase('resume', async () => {
        report.resumed = await engine.resume(actor);
      })) &&
      (await phase('retire', async () => {
        await retireDue(store, actor, report);
      })) &&
      (await phase('rotate', async () => {
        await rotateDue(store, actor, settings, report);
      }));
    if (go) {
      await phase('remind', async () => {
        await remind(store, actor, notify, notifier!.channels, report);
      });
    }
    const counts = {
      resumed: report.resumed.length,
      retired: report.retired.length,
      rotations: report.rotations.length,
      reminders: report.reminders.length,
      errors: report.errors.length,
    };
    // An idle tick every minute is not worth an info line in `rotor serve`'s log.
    const busy = Object.values(counts).some((n) => n > 0);
    logger[busy ? 'info' : 'debug']({ requestId: actor.requestId, ...counts }, 'scheduler tick');
    return report;
  }

  /** Retires per secret × environment, so one busy lock or failing revoke does not hold up the rest. */
  async function retireDue(store: Store, actor: Actor, report: SchedulerReport): Promise<void> {
    const due = await store.db
      .selectFrom('versions')
      .select(['secret', 'environment'])
      .distinct()
      .where('stage', '=', 'previous')
      .where('retire_at', '<=', clock.now())
      .orderBy('secret')
      .orderBy('environment')
      .execute();
    const secrets = rotor.policy().secrets;
    for (const pair of due) {
      if (!secrets.has(pair.secret)) continue;
      try {
        report.retired.push(
          ...(await engine.retire(actor, { secret: pair.secret, environment: pair.environment })),
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

  async function rotateDue(
    store: Store,
    actor: Actor,
    settings: SchedulerSettings,
    report: SchedulerReport,
  ): Promise<void> {
    const now = clock.now();
    const status = await computeStatus(store, { now });
    const attempts = new Map(
      (await store.db.selectFrom('scheduler_attempts').selectAll().execute()).map((a) => [
        `${a.secret}\0${a.environment}\0${a.cycle}`,
        a,
      ]),
    );
    const policy = rotor.policy();
    const eligible = new Map<string, StatusRow[]>();
    for (const row of status.rows) {
      const spec = policy.secrets.get(row.secret);
      if (!spec || automatic(spec) !== undefined) continue;
      if (row.ageState !== 'due' && row.ageState !== 'overdue') continue;
      if (row.rotation?.state === 'waiting') continue; // a standby version: resume promotes it
      const base = { secret: row.secret, environment: row.environment };
      if (row.rotation?.state === 'running') {
        report.waiting.push({
          ...base,
          reason: 'busy',
          detail: `rotation ${row.rotation.id} is running`,
        });
        continue;
      }
      const tried = attempts.get(`${row.secret}\0${row.environment}\0${row.rotatedAt}`);
      if (tried?.state === 'failed') {
        report.waiting.push({
          ...base,
          reason: 'gave-up',
          detail: `gave up after ${tried.attempts} failed attempt(s): ${tried.last_error ?? ''}; rotate it by hand`,
        });
        continue;
      }
      if (tried && tried.next_attempt_at !== null && tried.next_attempt_at > now) {
        report.waiting.push({
          ...base,
          reason: 'backoff',
          until: iso(tried.next_attempt_at),
          detail: `attempt ${tried.attempts + 1} of ${settings.retries + 1} from ${iso(tried.next_attempt_at)}`,
        });
        continue;
      }
      if (!insideWindow(spec.window, now)) {
        const opens = nextWindowStart(spec.window!, now);
        report.waiting.push({
          ...base,
          reason: 'outside-window',
          ...(opens === undefined ? {} : { until: iso(opens) }),
          detail: `maintenance window ${describeWindow(spec.window!)}`,
        });
        continue;
      }
      const list = eligible.get(row.secret) ?? [];
      list.push(row);
      eligible.set(row.secret, list);
    }
    for (const [secret, rows] of eligible) {
      const spec = policy.secrets.get(secret)!;
      const order = policy.environments.filter((e) => rows.some((r) => r.environment === e));
      const cycleOf = new Map(rows.map((r) => [r.environment, r.rotatedAt ?? 0]));
      let result;
      try {
        result = await engine.rotate(actor, { secret, environments: order, method: 'scheduled' });
      } catch (error) {
        if (
          isRotorError(error, 'ERR_ROTOR_LOCK_HELD') ||
          isRotorError(error, 'ERR_ROTOR_ROTATION_IN_PROGRESS')
        ) {
          for (const environment of order)
            report.waiting.push({
              secret,
              environment,
              reason: 'busy',
              detail: errorInfo(error).message,
            });
          continue;
        }
        // Refused before anything ran (not applied, wrong master key): counts as an attempt.
        const first = order[0]!;
        report.rotations.push(
          await recordFailure(
            store,
            actor,
            settings,
            spec,
            first,
            cycleOf.get(first)!,
            errorInfo(error),
          ),
        );
        continue;
      }
      for (const r of result.results) {
        const base = { secret, environment: r.environment };
        if (r.outcome === 'succeeded' || r.outcome === 'standby') {
          const prior = attempts.get(`${secret}\0${r.environment}\0${cycleOf.get(r.environment)}`);
          await store.writeTransaction((trx) =>
            trx
              .deleteFrom('scheduler_attempts')
              .where('secret', '=', secret)
              .where('environment', '=', r.environment)
              .execute(),
          );
          report.rotations.push({
            ...base,
            outcome: r.outcome === 'succeeded' ? 'rotated' : 'standby',
            attempt: (prior?.attempts ?? 0) + 1,
            rotationId: r.rotationId,
            ...(r.versionId ? { versionId: r.versionId } : {}),
          });
        } else if (r.outcome === 'failed') {
          report.rotations.push(
            await recordFailure(
              store,
              actor,
              settings,
              spec,
              r.environment,
              cycleOf.get(r.environment)!,
              r.error ?? { code: 'ERR_ROTOR_ROTATION_FAILED', message: 'failed' },
              r.rotationId,
            ),
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
    }
  }

  /** Counts a failed attempt; schedules the next one with backoff, or gives up after the retries. */
  async function recordFailure(
    store: Store,
    actor: Actor,
    settings: SchedulerSettings,
    spec: SecretSpec,
    environment: string,
    cycle: number,
    error: { code: string; message: string },
    rotationId?: string,
  ): Promise<ScheduledRotation> {
    return store.writeTransaction(async (trx) => {
      const now = clock.now();
      const prior = await trx
        .selectFrom('scheduler_attempts')
        .selectAll()
        .where('secret', '=', spec.name)
        .where('environment', '=', environment)
        .where('cycle', '=', cycle)
        .executeTakeFirst();
      const attempt = (prior?.attempts ?? 0) + 1;
      const giveUp = attempt > settings.retries;
      const next = giveUp ? null : now + settings.backoffMs * 2 ** (attempt - 1);
      const lastError = `${error.code}: ${error.message}`.slice(0, 500);
      const values = {
        attempts: attempt,
        state: giveUp ? ('failed' as const) : ('retrying' as const),
        last_attempt_at: now,
        next_attempt_at: next,
        last_error: lastError,
      };
      if (prior) {
        await trx
          .updateTable('scheduler_attempts')
          .set(values)
          .where('secret', '=', spec.name)
          .where('environment', '=', environment)
          .where('cycle', '=', cycle)
          .execute();
      } else {
        await trx
          .insertInto('scheduler_attempts')
          .values({ secret: spec.name, environment, cycle, ...values })
          .execute();
      }
      await appendAudit(trx, clock, actor, {
        secret: spec.name,
        environment,
        action: giveUp ? 'scheduler.gave-up' : 'scheduler.retry',
        outcome: giveUp ? 'failure' : 'info',
        notes: giveUp
          ? `scheduled rotation failed ${attempt} time(s) (${error.code}); no more automatic attempts until it is rotated by hand`
          : `scheduled rotation attempt ${attempt} of ${settings.retries + 1} failed (${error.code}); next attempt from ${iso(next!)}`,
        details: { attempt, error: error.code, rotation: rotationId ?? null },
      });
      return {
        secret: spec.name,
        environment,
        outcome: giveUp ? 'gave-up' : 'failed',
        attempt,
        ...(rotationId ? { rotationId } : {}),
        ...(next === null ? {} : { nextAttemptAt: iso(next) }),
        error,
      } satisfies ScheduledRotation;
    });
  }

  type Claim = 'claimed' | 'done' | 'busy';

  /** Takes a reminder slot on one channel; its primary key makes a second claim impossible. */
  async function claim(
    store: Store,
    key: string,
    row: { secret: string; environment: string; cycle: number; slot: string; channel: string },
  ): Promise<Claim> {
    return store.writeTransaction(async (trx) => {
      const now = clock.now();
      const held = await trx
        .selectFrom('scheduler_reminders')
        .select(['state', 'claimed_at', 'attempts'])
        .where('key', '=', key)
        .executeTakeFirst();
      if (!held) {
        const inserted = await trx
          .insertInto('scheduler_reminders')
          .values({
            key,
            ...row,
            state: 'sending',
            attempts: 1,
            claimed_at: now,
            sent_at: null,
            last_error: null,
          })
          .onConflict((oc) => oc.column('key').doNothing())
          .executeTakeFirst();
        return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1 ? 'claimed' : 'busy';
      }
      if (held.state === 'sent') return 'done';
      if (held.state === 'sending' && held.claimed_at > now - REMINDER_CLAIM_MS) return 'busy';
      await trx
        .updateTable('scheduler_reminders')
        .set({ state: 'sending', attempts: held.attempts + 1, claimed_at: now })
        .where('key', '=', key)
        .execute();
      return 'claimed';
    });
  }

  async function remind(
    store: Store,
    actor: Actor,
    notify: NotifySpec,
    channels: readonly NotifyChannel[],
    report: SchedulerReport,
  ): Promise<void> {
    const now = clock.now();
    const status = await computeStatus(store, { now });
    await alertCredentials(store, actor, channels, report, status.rows);
    const policy = rotor.policy();
    // Secrets the scheduler gave up on are a person's job now: they get reminders too.
    const gaveUp = new Set(
      (
        await store.db
          .selectFrom('scheduler_attempts')
          .select(['secret', 'environment', 'cycle'])
          .where('state', '=', 'failed')
          .execute()
      ).map((a) => `${a.secret}\0${a.environment}\0${a.cycle}`),
    );
    for (const row of status.rows) {
      const spec = policy.secrets.get(row.secret);
      if (!spec) continue;
      const reason =
        automatic(spec) ??
        (gaveUp.has(`${row.secret}\0${row.environment}\0${row.rotatedAt}`) ? 'gave-up' : undefined);
      if (
        reason === undefined ||
        row.nextDueAt === null ||
        row.overdueAt === null ||
        row.rotatedAt === null
      )
        continue;
      const slot = currentReminderSlot(
        { nextDueAt: row.nextDueAt, overdueAt: row.overdueAt },
        notify,
        now,
      );
      if (!slot) continue;
      const base = { secret: row.secret, environment: row.environment, slot: slot.slot };
      if (channels.length === 0) {
        // Reported once per slot (not every tick); a channel configured later gets its own key.
        const key = [row.secret, row.environment, row.rotatedAt, slot.slot, 'none'].join('|');
        if (
          (await claim(store, key, {
            secret: row.secret,
            environment: row.environment,
            cycle: row.rotatedAt,
            slot: slot.slot,
            channel: 'none',
          })) === 'claimed'
        ) {
          await store.writeTransaction((trx) =>
            trx
              .updateTable('scheduler_reminders')
              .set({ state: 'sent', sent_at: clock.now() })
              .where('key', '=', key)
              .execute(),
          );
          report.reminders.push({ ...base, channel: 'none', target: '', outcome: 'no-channel' });
        }
        continue;
      }
      const config = spec.config as { instructions?: unknown } | undefined;
      const reminder: Reminder = {
        secret: row.secret,
        environment: row.environment,
        kind: spec.kind,
        owner: spec.owner ?? null,
        notes: spec.notes ?? null,
        instructions: typeof config?.instructions === 'string' ? config.instructions : null,
        reason,
        slot: slot.slot,
        dueAt: row.nextDueAt,
        overdueAt: row.overdueAt,
        at: now,
      };
      const message = reminderMessage(reminder);
      for (const channel of channels) {
        const key = [row.secret, row.environment, row.rotatedAt, slot.slot, channel.id].join('|');
        const claimed = await claim(store, key, {
          secret: row.secret,
          environment: row.environment,
          cycle: row.rotatedAt,
          slot: slot.slot,
          channel: channel.id,
        });
        if (claimed !== 'claimed') continue;
        const details = {
          channel: channel.kind,
          channelId: channel.id,
          target: channel.target,
          slot: slot.slot,
        };
        try {
          await channel.send(message, {
            secret: row.secret,
            environment: row.environment,
            slot: slot.slot,
          });
          await store.writeTransaction(async (trx) => {
            await trx
              .updateTable('scheduler_reminders')
              .set({ state: 'sent', sent_at: clock.now(), last_error: null })
              .where('key', '=', key)
              .execute();
            await appendAudit(trx, clock, actor, {
              secret: row.secret,
              environment: row.environment,
              action: 'reminder.sent',
              outcome: 'success',
              notes: message.subject,
              details,
            });
          });
          report.reminders.push({
            ...base,
            channel: channel.kind,
            target: channel.target,
            outcome: 'sent',
          });
        } catch (error) {
          const info = errorInfo(error);
          await store.writeTransaction(async (trx) => {
            await trx
              .updateTable('scheduler_reminders')
              .set({ state: 'failed', last_error: `${info.code}: ${info.message}`.slice(0, 500) })
              .where('key', '=', key)
              .execute();
            await appendAudit(trx, clock, actor, {
              secret: row.secret,
              environment: row.environment,
              action: 'reminder.failed',
              outcome: 'failure',
              notes: `${info.message}; retried next tick`,
              details: { ...details, error: info.code },
            });
          });
          logger.warn(
            {
              secret: row.secret,
              environment: row.environment,
              channel: channel.kind,
              code: info.code,
            },
            'reminder delivery failed',
          );
          report.reminders.push({
            ...base,
            channel: channel.kind,
            target: channel.target,
            outcome: 'failed',
            error: info,
          });
        }
      }
    }
  }

  /**
   * Credentials a retire could not end (status alerts: retire postponed by live sessions, held past
   * drain.within, still logging in, not proven) go to the same channels as reminders, once per
   * version and problem, with the sessions named. Kept-by-policy logins are in status only.
   */
  async function alertCredentials(
    store: Store,
    actor: Actor,
    channels: readonly NotifyChannel[],
    report: SchedulerReport,
    rows: readonly StatusRow[],
  ): Promise<void> {
    for (const row of rows) {
      for (const alert of row.alerts) {
        if (alert.problem === 'outside-rotation') continue;
        const level =
          alert.problem === 'retire-postponed' || alert.problem === 'unproven'
            ? 'WARNING'
            : 'CRITICAL';
        const message = {
          subject: `Rotor ${level}: ${row.secret} (${row.environment}) ${alert.problem.replace('-', ' ')}`,
          text: `${alert.detail}\n\nSee \`rotor status\` and the audit log; \`rotor retire --force\` ends live sessions now.`,
        };
        for (const channel of channels) {
          const key = [
            row.secret,
            row.environment,
            alert.versionId,
            alert.problem,
            channel.id,
          ].join('|');
          const base = { secret: row.secret, environment: row.environment, slot: alert.problem };
          if (
            (await claim(store, key, {
              ...base,
              cycle: row.rotatedAt ?? 0,
              channel: channel.id,
            })) !== 'claimed'
          )
            continue;
          try {
            await channel.send(message, base);
            await store.writeTransaction(async (trx) => {
              await trx
                .updateTable('scheduler_reminders')
                .set({ state: 'sent', sent_at: clock.now(), last_error: null })
                .where('key', '=', key)
                .execute();
              await appendAudit(trx, clock, actor, {
                ...base,
                action: 'reminder.sent',
                outcome: 'success',
                notes: message.subject,
                details: { channel: channel.kind, slot: alert.problem, version: alert.versionId },
              });
            });
            report.reminders.push({
              ...base,
              channel: channel.kind,
              target: channel.target,
              outcome: 'sent',
            });
          } catch (error) {
            const info = errorInfo(error);
            await store.writeTransaction((trx) =>
              trx
                .updateTable('scheduler_reminders')
                .set({ state: 'failed', last_error: `${info.code}: ${info.message}`.slice(0, 500) })
                .where('key', '=', key)
                .execute(),
            );
            report.reminders.push({
              ...base,
              channel: channel.kind,
              target: channel.target,
              outcome: 'failed',
              error: info,
            });
          }
        }
      }
    }
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
        throw new RotorError('ERR_ROTOR_CLI_USAGE', 'the scheduler interval must be at least 1s');
      }
      looping = true;
      // The lease outlives a missed tick or two, so a slow tick does not hand leadership over.
      leaseMs = Math.max(deps.leaseMs ?? 0, 3 * options.intervalMs, 60_000);
      const loop = async () => {
        try {
          const report = await scheduler.tick();
          options.onReport?.(report);
        } catch (error) {
          if (options.onError) options.onError(error);
          else logger.error({ code: errorInfo(error).code }, 'scheduler tick failed');
        }
        if (looping) timer = setTimeout(() => void loop(), options.intervalMs);
      };
      timer = setTimeout(() => void loop(), 0);
    },
    async stop() {
      looping = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await chain;
      // A tick that was waiting on its timer may have started meanwhile; wait for it too.
      await chain;
      if (lease) await lease.release().catch(() => undefined);
      await notifier?.close();
    },
    get running() {
      return looping;
    },
  };
  return scheduler;
}
