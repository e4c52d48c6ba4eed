// How the API reads one secret value for an app, the hot path of `rotor serve`: the store's fast
// reads where offered (SQLite's synchronous connection, PostgreSQL's notified cache), else core's
// readOneValue; all audit before answering.
import { createGroupAuditAppender } from '../../core/audit/audit-group-append.js';
import type { Actor } from '../../core/audit/audit-log.js';
import type { Rotor } from '../../core/context.js';
import {
  assertReadable,
  inGrace,
  noLiveVersion,
  readOneValue,
  type DeliveredStage,
  type DeliveredValue,
} from '../../core/delivery/read-values.js';
import { RotorError } from '../../core/errors.js';
import {
  setMeta,
  type AuditRowInsert,
  type LiveVersionRow,
  type Store,
} from '../../core/store/open-store.js';
import { openPostgresFastReads, StaleReadError } from '../../core/store/postgres-fast-reads.js';
import type { VersionsTable } from '../../core/store/schema.js';
import type { TokenLookupRow } from '../../core/tokens/authenticate-token.js';
import { openVersion } from '../../core/vault/versions.js';

export interface SecretReadPath {
  read(
    actor: Actor,
    name: string,
    environment: string,
    stage: DeliveredStage,
  ): Promise<DeliveredValue>;
  /**
   * Commits one small write (the `ready_probe_at` meta row), for /readyz: a store that opens and
   * reads but cannot be written (read-only file, disk full, I/O errors) is not ready. Rejects
   * with ERR_ROTOR_STORE_UNAVAILABLE.
   */
  probeWrite(): Promise<void>;
  /** The token row for authentication, where this path has a faster lookup than Kysely. */
  findToken?(id: string): TokenLookupRow | undefined | Promise<TokenLookupRow | undefined>;
  close(): void;
}

/**
 * Decrypted values kept per version id. A version's value never changes (rotation makes a new
 * version; retiring destroys it and moves it out of the stages the lookup selects, so a cached
 * value is never served once its row is gone): which version is served is decided on every read
 * (SQLite: a lookup checked against `data_version`; PostgreSQL: the audit commit's re-check), only
 * the two AES-GCM operations of the envelope are skipped. The process holds the master key anyway.
 */
const VALUE_CACHE_SIZE = 1024;

/** The meta row /readyz writes to prove the store takes writes. */
const READY_PROBE = 'ready_probe_at';

type MasterKey = Awaited<ReturnType<Rotor['masterKey']>>;

/** What the hot read needs of a store's fast path; lookups may answer synchronously. */
interface HotReads {
  liveVersions(secret: string, environment: string): MaybePromise<readonly LiveVersionRow[]>;
  version(id: string): MaybePromise<VersionsTable | undefined>;
  appendAudit(link: (headHash: string | undefined) => readonly AuditRowInsert[]): Promise<void>;
  /** Notes a row about to be handed out, for a path that re-checks it at the audit commit. */
  served?(row: LiveVersionRow): void;
  /** Drops cached lookups after a stale read. */
  forget?(): void;
}

type MaybePromise<T> = T | Promise<T>;

/** Reads that found their version gone at the audit commit are tried again this many times. */
const STALE_RETRIES = 3;

export function createSecretReadPath(rotor: Rotor, store: Store): SecretReadPath {
  const fast = store.fastReads?.open();
  if (fast) {
    return {
      ...hotReadPath(rotor, fast),
      probeWrite: () => fast.setMeta(READY_PROBE, String(rotor.clock.now())),
      findToken: (id) => fast.token(id),
      close: () => fast.close(),
    };
  }
  const probeWrite = () =>
    store.writeTransaction((trx) => setMeta(trx, READY_PROBE, String(rotor.clock.now())));
  if (store.dialect === 'postgres' && store.changes) {
    const pg = openPostgresFastReads(store);
    return {
      ...hotReadPath(rotor, pg),
      probeWrite,
      findToken: (id) => pg.token(id),
      close: () => void pg.close().catch(() => undefined),
    };
  }
  return {
    read: (actor, name, environment, stage) =>
      readOneValue(rotor, actor, { secret: name, environment, stage }),
    probeWrite,
    close: () => undefined,
  };
}

/** The audited read over a store's fast path, with decrypted values cached per version. */
function hotReadPath(rotor: Rotor, reads: HotReads): Pick<SecretReadPath, 'read'> {
  const audit = createGroupAuditAppender(reads);
  const values = createValueCache(reads);
  let master: MasterKey | undefined;
  async function once(
    actor: Actor,
    name: string,
    environment: string,
    stage: DeliveredStage,
  ): Promise<DeliveredValue> {
    const now = rotor.clock.now();
    const rows = await reads.liveVersions(name, environment);
    const row = rows.find((r) => r.stage === stage && (stage === 'current' || inGrace(r, now)));
    // The key is kept here (the hot path skips the check rotor.masterKey() makes) until a row
    // is sealed under another: `rotor master-key rotate` ran in another process.
    if (!master || (row?.master_key_id && row.master_key_id !== master.id))
      master = await rotor.masterKey();
    if (!row) throw noLiveVersion(name, environment, stage);
    const value = await values.get(master, row);
    // No await between noting the row and queueing its audit row: both land in one group.
    reads.served?.(row);
    await audit.append(now, actor, {
      secret: name,
      environment,
      action: 'read.get',
      outcome: 'success',
      notes: `${name} ${stage} ${row.id}`,
      details: { versionId: row.id, stage, count: 1 },
    });
    return {
      secret: name,
      environment,
      stage,
      variable: stage === 'current' ? name : `${name}_PREVIOUS`,
      versionId: row.id,
      value,
      retireAt: stage === 'previous' ? row.retire_at : null,
    };
  }
  return {
    async read(actor, name, environment, stage) {
      assertReadable(rotor, name, environment);
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(actor, name, environment, stage);
        } catch (error) {
          if (!(error instanceof StaleReadError) || attempt >= STALE_RETRIES) throw error;
          reads.forget?.();
        }
      }
    },
  };
}

/** Decrypted values by master key and version id, opened from the sealed row on a miss. */
function createValueCache(reads: Pick<HotReads, 'version'>) {
  const values = new Map<string, string>();
  return {
    async get(master: MasterKey, row: LiveVersionRow): Promise<string> {
      const key = `${row.master_key_id}:${row.id}`;
      let value = values.get(key);
      if (value === undefined) {
        const full = await reads.version(row.id);
        if (!full)
          throw new RotorError('ERR_ROTOR_VERSION_NOT_FOUND', `version ${row.id} is gone`, {
            details: { versionId: row.id },
          });
        value = openVersion(master, full);
        if (values.size >= VALUE_CACHE_SIZE) values.delete(values.keys().next().value!);
        values.set(key, value);
      }
      return value;
    },
  };
}
