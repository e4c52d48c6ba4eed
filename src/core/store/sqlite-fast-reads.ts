// The SQLite store's `FastReads`: its own connection and prepared statements for the server's
// hot reads, because Kysely's per-query overhead was most of a read's cost. Token rows and
// version lookups are kept until `PRAGMA data_version` says another connection committed.
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import type { VersionsTable } from './schema.js';
import { mapSqliteError } from './sqlite-adapter.js';
import type {
  AuditRowInsert,
  FastReads,
  FastReadsSource,
  LiveVersionRow,
  TokenRow,
} from './store-capabilities.js';

/** Cached token rows and version lookups, each (cleared when full). */
const CACHE_SIZE = 1024;

/** How long a write waits for another writer (a rotation, another process) before giving up. */
const BUSY_WAIT_MS = 5_000;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function statements(db: BetterSqlite3.Database) {
  return {
    // The lookup reads no blobs: the sealed value is fetched only when the caller needs it.
    live: db.prepare<[string, string], LiveVersionRow>(
      "SELECT id, stage, retire_at, master_key_id FROM versions WHERE secret = ? AND environment = ? AND stage IN ('current', 'previous') ORDER BY created_at DESC",
    ),
    version: db.prepare<[string], VersionsTable>('SELECT * FROM versions WHERE id = ?'),
    token: db.prepare<[string], TokenRow>(
      'SELECT id, name, role, secrets, environments, hash, expires_at, revoked_at FROM api_tokens WHERE id = ?',
    ),
    head: db.prepare<[], { hash: string }>(
      'SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    ),
    insert: db.prepare<[number, string | null, string | null, string, string, string]>(
      'INSERT INTO audit_events (at, secret, environment, action, entry, hash) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    meta: db.prepare<[string, string]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    // Moves whenever another connection commits: a rotation, a token created or revoked, by this
    // process (Kysely's connection) or any other. This connection's own commits are only audit
    // and meta rows, which no cached lookup reads.
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
  };
}

/** Opens the read path on `file`. Driver errors of the open itself are mapped to RotorErrors. */
export function openSqliteFastReads(file: string): FastReads {
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(file, { fileMustExist: true });
    // No busy wait inside SQLite: a blocked synchronous call would stall the whole event loop,
    // and with it the Kysely connection of this very process that holds the lock. Waits are async.
    db.pragma('busy_timeout = 0');
    db.pragma('synchronous = NORMAL');
  } catch (error) {
    throw mapSqliteError(error, file);
  }
  const s = statements(db);
  let seenVersion = -1;
  const tokens = new Map<string, TokenRow | undefined>();
  const lookups = new Map<string, LiveVersionRow[]>();
  function fresh(): void {
    const v = s.dataVersion.get()!;
    if (v !== seenVersion) {
      seenVersion = v;
      tokens.clear();
      lookups.clear();
    }
  }

  const appendAll = db.transaction(
    (link: (head: string | undefined) => readonly AuditRowInsert[]) => {
      for (const r of link(s.head.get()?.hash))
        s.insert.run(r.at, r.secret, r.environment, r.action, r.entry, r.hash);
    },
  );

  /** Runs a write transaction, waiting asynchronously while another writer holds the lock. */
  async function write(run: () => void): Promise<void> {
    const deadline = Date.now() + BUSY_WAIT_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        run();
        return;
      } catch (error) {
        // A read-only file, a full disk or an I/O error: ERR_ROTOR_STORE_UNAVAILABLE (503).
        if (!isBusy(error) || Date.now() > deadline) throw mapSqliteError(error, file);
        await sleep(wait);
      }
    }
  }

  return {
    liveVersions(secret, environment) {
      fresh();
      const key = `${secret}\u0000${environment}`;
      let rows = lookups.get(key);
      if (rows === undefined) {
        rows = s.live.all(secret, environment);
        if (lookups.size >= CACHE_SIZE) lookups.clear();
        lookups.set(key, rows);
      }
      return rows;
    },
    version: (id) => s.version.get(id),
    token(id) {
      fresh();
      if (tokens.has(id)) return tokens.get(id);
      const row = s.token.get(id);
      if (tokens.size >= CACHE_SIZE) tokens.clear();
      tokens.set(id, row);
      return row;
    },
    appendAudit: (link) => write(() => appendAll.immediate(link)),
    setMeta: (key, value) => write(() => s.meta.run(key, value)),
    close() {
      tokens.clear();
      lookups.clear();
      db.close();
    },
  };
}

/** The SQLite store's fast read path: a new connection per `open`. */
export function sqliteFastReadsSource(file: string): FastReadsSource {
  return { open: () => openSqliteFastReads(file) };
}
