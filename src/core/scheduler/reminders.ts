// Reminders: what the scheduler cannot rotate by itself (manual kinds, `auto: false`, the master
// key, what it gave up on) and credentials a retire could not end, sent once per slot and channel.
import type { Logger } from 'pino';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { SecretSpec } from '../policy/policy.js';
import type { StatusRow } from '../status/status.js';
import type { Store } from '../store/open-store.js';
import type { NotifyChannel } from '../notify/notify-channel.js';
import { reminderMessage, type Reminder } from '../notify/reminder-message.js';
import { errorInfo } from '../rotation/rotation-run.js';
import { attemptKey, manualReason, type PlannedSpec } from './plan-rotations.js';
import { currentReminderSlot } from './reminder-slots.js';
import type { NotifySpec } from '../policy/schedule-schema.js';

/** A claimed reminder not marked sent or failed within this long was lost with its process: claim it again. */
export const REMINDER_CLAIM_MS = 10 * 60_000;

export interface ReminderDelivery {
  secret: string;
  environment: string;
  slot: string;
  channel: string;
  target: string;
  outcome: 'sent' | 'failed' | 'no-channel';
  error?: { code: string; message: string };
}

export interface ReminderDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Audited on every reminder row. */
  actor: Actor;
}

export interface ReminderInput {
  rows: readonly StatusRow[];
  secrets: ReadonlyMap<string, PlannedSpec & Pick<SecretSpec, 'owner' | 'notes' | 'config'>>;
  notify: NotifySpec;
  channels: readonly NotifyChannel[];
  generatedKinds: ReadonlySet<string>;
}

interface SlotRow {
  secret: string;
  environment: string;
  cycle: number;
  slot: string;
  channel: string;
}

type Claim = 'claimed' | 'done' | 'busy';

/** Credential alerts, then the reminders due now; answers every delivery tried. */
export async function sendReminders(
  deps: ReminderDeps,
  input: ReminderInput,
): Promise<ReminderDelivery[]> {
  const deliveries = await alertCredentials(deps, input);
  // Secrets the scheduler gave up on are a person's job now: they get reminders too.
  const gaveUp = new Set(
    (
      await deps.store.db
        .selectFrom('scheduler_attempts')
        .select(['secret', 'environment', 'cycle'])
        .where('state', '=', 'failed')
        .execute()
    ).map((a) => attemptKey(a.secret, a.environment, a.cycle)),
  );
  const now = deps.clock.now();
  for (const row of input.rows) {
    const spec = input.secrets.get(row.secret);
    if (!spec) continue;
    const reason =
      manualReason(spec, input.generatedKinds) ??
      (gaveUp.has(attemptKey(row.secret, row.environment, row.rotatedAt)) ? 'gave-up' : undefined);
    if (reason === undefined || row.nextDueAt === null || row.overdueAt === null) continue;
    if (row.rotatedAt === null) continue;
    const dates = { nextDueAt: row.nextDueAt, overdueAt: row.overdueAt };
    const slot = currentReminderSlot(dates, input.notify, now);
    if (!slot) continue;
    const reminder: Reminder = {
      secret: row.secret,
      environment: row.environment,
      kind: spec.kind,
      owner: spec.owner ?? null,
      notes: spec.notes ?? null,
      instructions: instructionsOf(spec.config),
      reason,
      slot: slot.slot,
      dueAt: row.nextDueAt,
      overdueAt: row.overdueAt,
      at: now,
    };
    const slotRow = { ...reminder, cycle: row.rotatedAt };
    deliveries.push(...(await remindOne(deps, slotRow, input.channels)));
  }
  return deliveries;
}

function instructionsOf(config: unknown): string | null {
  const instructions = (config as { instructions?: unknown } | undefined)?.instructions;
  return typeof instructions === 'string' ? instructions : null;
}

/** One reminder on every channel whose slot it can claim (without channels: reported once). */
async function remindOne(
  deps: ReminderDeps,
  reminder: Reminder & { cycle: number },
  channels: readonly NotifyChannel[],
): Promise<ReminderDelivery[]> {
  const { secret, environment, cycle, slot } = reminder;
  const base = { secret, environment, slot };
  const keyOf = (channel: string) => [secret, environment, cycle, slot, channel].join('|');
  if (channels.length === 0) {
    // Reported once per slot (not every tick); a channel configured later gets its own key.
    const key = keyOf('none');
    if ((await claim(deps, key, { ...base, cycle, channel: 'none' })) !== 'claimed') return [];
    await markSent(deps, key);
    return [{ ...base, channel: 'none', target: '', outcome: 'no-channel' }];
  }
  const message = reminderMessage(reminder);
  const deliveries: ReminderDelivery[] = [];
  for (const channel of channels) {
    const key = keyOf(channel.id);
    if ((await claim(deps, key, { ...base, cycle, channel: channel.id })) !== 'claimed') continue;
    const details = { channel: channel.kind, channelId: channel.id, target: channel.target, slot };
    const sent = await deliver(deps, { key, channel, message, base, details });
    if (sent.outcome === 'failed') {
      deps.logger.warn(
        { secret, environment, channel: channel.kind, code: sent.error?.code },
        'reminder delivery failed',
      );
    }
    deliveries.push(sent);
  }
  return deliveries;
}

interface Delivery {
  key: string;
  channel: NotifyChannel;
  message: { subject: string; text: string };
  base: { secret: string; environment: string; slot: string };
  /** Audit details of the `reminder.sent` row (and of `reminder.failed` when `auditFailure`). */
  details: Record<string, string>;
  /** Credential alerts record a failed delivery in the reminders table only. */
  auditFailure?: false;
}

/** Sends on one claimed slot; marks it sent or failed and audits it. Never throws for the channel. */
async function deliver(deps: ReminderDeps, d: Delivery): Promise<ReminderDelivery> {
  const { base, channel } = d;
  const answer = { ...base, channel: channel.kind, target: channel.target };
  try {
    await channel.send(d.message, base);
    await markSent(deps, d.key, async (trx) => {
      await appendAudit(trx, deps.clock, deps.actor, {
        secret: base.secret,
        environment: base.environment,
        action: 'reminder.sent',
        outcome: 'success',
        notes: d.message.subject,
        details: d.details,
      });
    });
    return { ...answer, outcome: 'sent' };
  } catch (error) {
    const info = errorInfo(error);
    await deps.store.writeTransaction(async (trx) => {
      await trx
        .updateTable('scheduler_reminders')
        .set({ state: 'failed', last_error: `${info.code}: ${info.message}`.slice(0, 500) })
        .where('key', '=', d.key)
        .execute();
      if (d.auditFailure === false) return;
      await appendAudit(trx, deps.clock, deps.actor, {
        secret: base.secret,
        environment: base.environment,
        action: 'reminder.failed',
        outcome: 'failure',
        notes: `${info.message}; retried next tick`,
        details: { ...d.details, error: info.code },
      });
    });
    return { ...answer, outcome: 'failed', error: info };
  }
}

async function markSent(
  deps: ReminderDeps,
  key: string,
  audit?: Parameters<Store['writeTransaction']>[0],
): Promise<void> {
  await deps.store.writeTransaction(async (trx) => {
    await trx
      .updateTable('scheduler_reminders')
      .set({ state: 'sent', sent_at: deps.clock.now(), ...(audit ? { last_error: null } : {}) })
      .where('key', '=', key)
      .execute();
    if (audit) await audit(trx);
  });
}

/** Takes a reminder slot on one channel; its primary key makes a second claim impossible. */
async function claim(deps: ReminderDeps, key: string, row: SlotRow): Promise<Claim> {
  return deps.store.writeTransaction(async (trx) => {
    const now = deps.clock.now();
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

/**
 * Credentials a retire could not end (status alerts: retire postponed by live sessions, held past
 * drain.within, still logging in, not proven) go to the same channels as reminders, once per
 * version and problem, with the sessions named. Kept-by-policy logins are in status only.
 */
async function alertCredentials(
  deps: ReminderDeps,
  input: Pick<ReminderInput, 'rows' | 'channels'>,
): Promise<ReminderDelivery[]> {
  const deliveries: ReminderDelivery[] = [];
  for (const row of input.rows) {
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
      const base = { secret: row.secret, environment: row.environment, slot: alert.problem };
      for (const channel of input.channels) {
        const key = [row.secret, row.environment, alert.versionId, alert.problem, channel.id];
        const slotRow = { ...base, cycle: row.rotatedAt ?? 0, channel: channel.id };
        if ((await claim(deps, key.join('|'), slotRow)) !== 'claimed') continue;
        const details = { channel: channel.kind, slot: alert.problem, version: alert.versionId };
        deliveries.push(
          await deliver(deps, {
            key: key.join('|'),
            channel,
            message,
            base,
            details,
            auditFailure: false,
          }),
        );
      }
    }
  }
  return deliveries;
}
