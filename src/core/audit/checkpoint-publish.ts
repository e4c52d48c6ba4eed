// Publishing signed checkpoints of the audit chain head: on demand (`rotor audit checkpoint`) and
// when due (every N rows or M minutes, from `rotor serve`'s loop or the scheduler's tick). The
// last publication and the last failure are kept in the store's meta table, for scheduling and for
// `rotor check`'s warning; a failure never blocks anything else (rotations go on).
import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { Rotor } from '../context.js';
import { isRotorError, RotorError } from '../errors.js';
import { getMeta, setMeta, type Store } from '../store/open-store.js';
import type { CheckpointSettings, CheckpointTarget } from '../policy/checkpoint-schema.js';
import {
  loadCheckpointPrivateKey,
  signCheckpoint,
  type SignedCheckpoint,
} from './checkpoint-sign.js';
import { describeTarget, publishToTarget } from './checkpoint-target.js';

/** Meta keys: the store's audit id, the last checkpoint published, the last failure. */
export const AUDIT_STORE_ID = 'audit_store_id';
export const CHECKPOINT_LAST = 'audit_checkpoint_last';
export const CHECKPOINT_ERROR = 'audit_checkpoint_error';

export type PublishDeps = Pick<Rotor, 'store' | 'policy' | 'clock' | 'env' | 'policyFile'>;

interface LastCheckpoint {
  seq: number;
  head: string;
  /** ms since the epoch */
  at: number;
  target: string;
}

interface LastError {
  at: number;
  code: string;
  message: string;
  target: string;
}

export interface PublishResult {
  /** `up-to-date`: the head was already published; `not-due`: nothing due yet; `empty`: no rows. */
  outcome: 'published' | 'exists' | 'up-to-date' | 'not-due' | 'empty';
  target: string;
  checkpoint?: SignedCheckpoint;
}

/** The configured checkpoints, or ERR_ROTOR_AUDIT_CHECKPOINT_NOT_CONFIGURED. */
export function checkpointSettings(
  rotor: Pick<Rotor, 'policy' | 'policyFile'>,
): CheckpointSettings {
  const settings = rotor.policy().audit?.checkpoints;
  if (!settings)
    throw new RotorError(
      'ERR_ROTOR_AUDIT_CHECKPOINT_NOT_CONFIGURED',
      `no audit checkpoints configured: add audit.checkpoints (to, key, every) to ${rotor.policyFile} (see docs/audit.md)`,
    );
  return settings;
}

/** A target with a relative directory resolved against rotor.yaml's directory. */
export function resolveTarget(target: CheckpointTarget, policyFile: string): CheckpointTarget {
  return 'dir' in target ? { dir: resolve(dirname(policyFile), target.dir) } : target;
}

function parseJson<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** The store's audit id: a UUID made on first use, named in every checkpoint. */
export async function auditStoreId(store: Store): Promise<string> {
  const existing = await store.guard(() => getMeta(store, AUDIT_STORE_ID));
  if (existing) return existing;
  return store.writeTransaction(async (trx) => {
    const row = await trx
      .selectFrom('meta')
      .select('value')
      .where('key', '=', AUDIT_STORE_ID)
      .executeTakeFirst();
    if (row) return row.value;
    const id = randomUUID();
    await setMeta(trx, AUDIT_STORE_ID, id);
    return id;
  });
}

async function chainHead(store: Store): Promise<{ seq: number; hash: string } | undefined> {
  return store.guard(() =>
    store.db
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst(),
  );
}

function isDue(
  last: LastCheckpoint | undefined,
  head: { seq: number },
  settings: CheckpointSettings,
  now: number,
): boolean {
  if (!last) return true;
  return head.seq - last.seq >= settings.everyRows || now - last.at >= settings.everyMs;
}

/**
 * Signs the chain head and publishes it. `due: true` publishes only when due (the periodic
 * caller); otherwise whenever the head moved since the last checkpoint. Failures are recorded
 * for `rotor check` and rethrown.
 *
 * @example
 * const { outcome, checkpoint } = await publishCheckpoint(rotor);
 */
export async function publishCheckpoint(
  rotor: PublishDeps,
  options: { due?: boolean } = {},
): Promise<PublishResult> {
  const settings = checkpointSettings(rotor);
  const target = resolveTarget(settings.target, rotor.policyFile);
  const where = describeTarget(target);
  const store = await rotor.store();
  const head = await chainHead(store);
  if (!head) return { outcome: 'empty', target: where };
  const last = parseJson<LastCheckpoint>(await store.guard(() => getMeta(store, CHECKPOINT_LAST)));
  const now = rotor.clock.now();
  if (last?.seq === head.seq && last.head === head.hash && last.target === where)
    return { outcome: 'up-to-date', target: where };
  if (options.due && last?.target === where && !isDue(last, head, settings, now))
    return { outcome: 'not-due', target: where };
  try {
    const key = loadCheckpointPrivateKey(settings.key, {
      env: rotor.env,
      resolvePath: (p) => resolve(dirname(rotor.policyFile), p),
    });
    const checkpoint = signCheckpoint(
      {
        store: await auditStoreId(store),
        seq: head.seq,
        head: head.hash,
        at: new Date(now).toISOString(),
      },
      key,
    );
    const token = settings.tokenEnv ? rotor.env[settings.tokenEnv] : undefined;
    const outcome = await publishToTarget(target, checkpoint, token ? { token } : {});
    const record: LastCheckpoint = { seq: head.seq, head: head.hash, at: now, target: where };
    await store.writeTransaction(async (trx) => {
      await setMeta(trx, CHECKPOINT_LAST, JSON.stringify(record));
      await trx.deleteFrom('meta').where('key', '=', CHECKPOINT_ERROR).execute();
    });
    return { outcome, target: where, checkpoint };
  } catch (error) {
    const failure: LastError = {
      at: now,
      code: isRotorError(error) ? error.code : 'ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED',
      message: (error as Error).message,
      target: where,
    };
    await store
      .writeTransaction((trx) => setMeta(trx, CHECKPOINT_ERROR, JSON.stringify(failure)))
      .catch(() => undefined);
    throw error;
  }
}

/**
 * The periodic hook: publishes a checkpoint if one is configured and due. Never throws: a
 * failure is logged, recorded for `rotor check` (WARNING) and tried again on the next call.
 * Call it from every loop that runs periodically (the scheduler tick, `rotor serve`).
 */
export async function publishDueCheckpoint(
  rotor: PublishDeps & Pick<Rotor, 'logger'>,
): Promise<PublishResult | { outcome: 'failed'; code: string } | undefined> {
  try {
    if (!rotor.policy().audit?.checkpoints) return undefined;
    return await publishCheckpoint(rotor, { due: true });
  } catch (error) {
    const code = isRotorError(error) ? error.code : 'ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED';
    rotor.logger.warn({ code, err: (error as Error).message }, 'audit checkpoint not published');
    return { outcome: 'failed', code };
  }
}

/** Runs `publishDueCheckpoint` now and every `intervalMs` (one at a time) until stopped. */
export function startCheckpointPublisher(
  rotor: PublishDeps & Pick<Rotor, 'logger'>,
  options: { intervalMs: number },
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const run = () => {
    running ??= publishDueCheckpoint(rotor).finally(() => (running = undefined));
  };
  run();
  const timer = setInterval(run, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

export interface CheckpointHealth {
  status: 'OK' | 'WARNING';
  detail: string;
}

/**
 * What `rotor check` says about checkpoints: WARNING when the last attempt failed, or when rows
 * have waited more than twice the interval for a checkpoint. Undefined when none are configured.
 */
export async function checkpointHealth(
  rotor: Pick<Rotor, 'store' | 'policy' | 'clock'>,
): Promise<CheckpointHealth | undefined> {
  const settings = rotor.policy().audit?.checkpoints;
  if (!settings) return undefined;
  const store = await rotor.store();
  const [lastText, errorText] = await Promise.all([
    store.guard(() => getMeta(store, CHECKPOINT_LAST)),
    store.guard(() => getMeta(store, CHECKPOINT_ERROR)),
  ]);
  const last = parseJson<LastCheckpoint>(lastText);
  const failure = parseJson<LastError>(errorText);
  if (failure && (!last || failure.at >= last.at)) {
    return {
      status: 'WARNING',
      detail: `publishing an audit checkpoint failed at ${new Date(failure.at).toISOString()}: ${failure.code}: ${failure.message}`,
    };
  }
  const oldest = await store.guard(() =>
    store.db
      .selectFrom('audit_events')
      .select(['seq', 'at'])
      .where('seq', '>', last?.seq ?? 0)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst(),
  );
  const now = rotor.clock.now();
  if (oldest && now - oldest.at > 2 * settings.everyMs) {
    return {
      status: 'WARNING',
      detail: `audit rows from ${oldest.seq} on (since ${new Date(oldest.at).toISOString()}) are not covered by a signed checkpoint: is \`rotor serve\` or the scheduler running?`,
    };
  }
  return {
    status: 'OK',
    detail: last
      ? `last audit checkpoint: row ${last.seq} at ${new Date(last.at).toISOString()}`
      : 'no audit rows to checkpoint yet',
  };
}
