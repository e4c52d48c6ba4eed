// How the API reads one secret value for an app: the hot path of `rotor serve`. On SQLite it
// uses its own connection and prepared statements (the version lookup, the token lookup and the
// audit append), because Kysely's per-query overhead was most of a read's cost; anywhere else it
// is core's readOneValue. Both write the same `read.get` audit row (secret, environment,
// version, token name, request id; never the value), committed before the value is handed back,
// so no read can go unrecorded (concurrent reads share one commit: see appendAll). Decrypted values are cached
// per version id (see VALUE_CACHE_SIZE).
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import {
  canonicalEntry,
  chainHash,
  GENESIS_HASH,
  type Actor,
  type AuditEntry,
} from '../../core/audit/audit-log.js';
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
import { setMeta, type Store } from '../../core/store/open-store.js';
import { mapSqliteError } from '../../core/store/sqlite-adapter.js';
import type { TokenLookupRow } from '../../core/tokens/authenticate-token.js';
import { openVersion, type VersionRow } from '../../core/vault/versions.js';

interface PendingRow {
  at: number;
  entry: AuditEntry;
  resolve(): void;
  reject(error: unknown): void;
}

type LiveVersion = Pick<VersionRow, 'id' | 'stage' | 'retire_at' | 'master_key_id'>;

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
  findToken?(id: string): TokenLookupRow | undefined;
  close(): void;
}

/**
 * Decrypted values kept per version id. A version's value never changes (rotation makes a new
 * version; retiring destroys it and moves it out of the stages the lookup selects, so a cached
 * value is never served once its row is gone): the lookup runs on every read, only the two
 * AES-GCM operations of the envelope are skipped. The process holds the master key anyway.
 */
const VALUE_CACHE_SIZE = 1024;

/** The meta row /readyz writes to prove the store takes writes. */
const READY_PROBE = 'ready_probe_at';

/** How long a read waits for another writer (a rotation, another process) before giving up. */
const BUSY_WAIT_MS = 5_000;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

export function createSecretReadPath(rotor: Rotor, store: Store): SecretReadPath {
  if (store.dialect !== 'sqlite') {
    return {
      read: (actor, name, environment, stage) =>
        readOneValue(rotor, actor, name, environment, stage),
      probeWrite: () =>
        store.writeTransaction((trx) => setMeta(trx, READY_PROBE, String(rotor.clock.now()))),
      close: () => undefined,
    };
  }
  const db = new BetterSqlite3(store.location, { fileMustExist: true });
  // No busy wait inside SQLite: a blocked synchronous call would stall the whole event loop,
  // and with it the Kysely connection of this very process that holds the lock. Waits are async.
  db.pragma('busy_timeout = 0');
  db.pragma('synchronous = NORMAL');
  // The lookup reads no blobs: the sealed value is fetched only when the cache does not hold it.
  const liveVersions = db.prepare<[string, string], LiveVersion>(
    "SELECT id, stage, retire_at, master_key_id FROM versions WHERE secret = ? AND environment = ? AND stage IN ('current', 'previous') ORDER BY created_at DESC",
  );
  const sealed = db.prepare<[string], VersionRow>('SELECT * FROM versions WHERE id = ?');
  const head = db.prepare<[], { hash: string }>(
    'SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1',
  );
  const insert = db.prepare<[number, string, string, string, string, string]>(
    'INSERT INTO audit_events (at, secret, environment, action, entry, hash) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const token = db.prepare<[string], TokenLookupRow>(
    'SELECT id, name, role, secrets, environments, hash, expires_at, revoked_at FROM api_tokens WHERE id = ?',
  );

  // Token rows and version lookups are kept until the store changes. `PRAGMA data_version` moves
  // whenever another connection commits: a rotation, a retirement, a token created or revoked,
  // by this process (Kysely's connection) or any other. This connection's own commits are only
  // audit rows, which no cached lookup reads. Times (expiry, grace) are still checked per read.
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seenVersion = -1;
  const tokens = new Map<string, TokenLookupRow | undefined>();
  const lookups = new Map<string, LiveVersion[]>();
  function fresh(): void {
    const v = dataVersion.get()!;
    if (v !== seenVersion) {
      seenVersion = v;
      tokens.clear();
      lookups.clear();
    }
  }
  function liveVersionsOf(name: string, environment: string): LiveVersion[] {
    fresh();
    const key = `${name}\u0000${environment}`;
    let rows = lookups.get(key);
    if (rows === undefined) {
      rows = liveVersions.all(name, environment);
      if (lookups.size >= VALUE_CACHE_SIZE) lookups.clear();
      lookups.set(key, rows);
    }
    return rows;
  }
  function findToken(id: string): TokenLookupRow | undefined {
    fresh();
    if (tokens.has(id)) return tokens.get(id);
    const row = token.get(id);
    if (tokens.size >= VALUE_CACHE_SIZE) tokens.clear();
    tokens.set(id, row);
    return row;
  }
  // Group commit: reads that arrive in the same turn of the event loop append their rows in one
  // transaction, chained in arrival order. No read's value is sent before the transaction holding
  // its row has committed, and a failed commit fails every read in it, so nothing goes
  // unrecorded; what is saved is a BEGIN/COMMIT and a WAL write per read under load.
  const appendAll = db.transaction((batch: readonly PendingRow[]) => {
    let previous = head.get()?.hash ?? GENESIS_HASH;
    for (const { at, entry } of batch) {
      const text = canonicalEntry(entry);
      previous = chainHash(previous, text);
      insert.run(at, entry.secret!, entry.environment!, entry.action, text, previous);
    }
  });
  let pending: PendingRow[] = [];

  const values = new Map<string, string>();
  let master: Awaited<ReturnType<Rotor['masterKey']>> | undefined;
  function valueOf(master: Awaited<ReturnType<Rotor['masterKey']>>, row: LiveVersion): string {
    const key = `${row.master_key_id}:${row.id}`;
    let value = values.get(key);
    if (value === undefined) {
      const full = sealed.get(row.id);
      if (!full)
        throw new RotorError('ERR_ROTOR_VERSION_NOT_FOUND', `version ${row.id} is gone`, {
          details: { versionId: row.id },
        });
      value = openVersion(master, full);
      if (values.size >= VALUE_CACHE_SIZE) values.delete(values.keys().next().value!);
      values.set(key, value);
    }
    return value;
  }

  /** Runs a write transaction, waiting asynchronously while another writer holds the lock. */
  async function write(run: () => void): Promise<void> {
    const deadline = Date.now() + BUSY_WAIT_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        run();
        return;
      } catch (error) {
        // A read-only file, a full disk or an I/O error: ERR_ROTOR_STORE_UNAVAILABLE (503).
        if (!isBusy(error) || Date.now() > deadline) throw mapSqliteError(error, store.location);
        await sleep(wait);
      }
    }
  }

  async function flush(): Promise<void> {
    const batch = pending;
    pending = [];
    try {
      await write(() => appendAll.immediate(batch));
      for (const row of batch) row.resolve();
    } catch (error) {
      for (const row of batch) row.reject(error);
    }
  }

  const probe = db.prepare<[string, string]>(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );

  function audit(at: number, entry: AuditEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (pending.length === 0) setImmediate(() => void flush());
      pending.push({ at, entry, resolve, reject });
    });
  }

  return {
    async read(actor, name, environment, stage) {
      assertReadable(rotor, name, environment);
      const now = rotor.clock.now();
      const rows = liveVersionsOf(name, environment);
      const row = rows.find((r) => r.stage === stage && (stage === 'current' || inGrace(r, now)));
      // The key is kept here (the hot path skips the check rotor.masterKey() makes) until a row
      // is sealed under another: `rotor master-key rotate` ran in another process.
      if (!master || (row?.master_key_id && row.master_key_id !== master.id))
        master = await rotor.masterKey();
      if (!row) throw noLiveVersion(name, environment, stage);
      const value = valueOf(master, row);
      await audit(now, {
        v: 1,
        at: new Date(now).toISOString(),
        secret: name,
        environment,
        operator: actor.operator,
        method: actor.method,
        action: 'read.get',
        outcome: 'success',
        requestId: actor.requestId,
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
    },
    probeWrite: () => write(() => probe.run(READY_PROBE, String(rotor.clock.now()))),
    findToken,
    close: () => {
      values.clear();
      tokens.clear();
      lookups.clear();
      db.close();
    },
  };
}
