// The read-only view of a local store shared by `fromStore` and `valueFromStore`: it follows
// master-key rotations and polls `PRAGMA data_version` for changes; it never writes.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { MasterKey } from '../core/crypto/envelope.js';
import {
  MASTER_KEY_FILE,
  NEXT_MASTER_KEY_FILE,
  parseMasterKey,
  readKeyFile,
} from '../core/crypto/master-key-file.js';
import { MASTER_KEY_CHECK } from '../core/crypto/master-key-names.js';
import { RotorError } from '../core/errors.js';
import { importPeer } from '../core/import-peer.js';

/** The store's meta key for the master-key check value (core's MASTER_KEY_CHECK, under the SDK's name). */
export const MASTER_KEY_CHECK_META = MASTER_KEY_CHECK;

export interface StoreReaderOptions {
  /** The project directory (default `process.cwd()`); the store is `<dir>/.rotor/rotor.db`. */
  dir?: string;
  /** The state directory, if not `<dir>/.rotor` (or ROTOR_STATE_DIR). */
  stateDir?: string;
  /** The master key (base64); default ROTOR_MASTER_KEY, then `<stateDir>/master.key`. */
  masterKey?: string;
  /**
   * Where ROTOR_MASTER_KEY / ROTOR_STATE_DIR / ROTOR_STORE_URL (or ROTOR_DATABASE_URL) are read
   * (default `process.env`). A store URL naming PostgreSQL is refused: use the client's fromServer.
   */
  env?: NodeJS.ProcessEnv;
  /** How often to look for changes, in ms (default 500). */
  pollMs?: number;
}

/**
 * The read-only better-sqlite3 connection, typed by the calls the sources make: the SDK's
 * declarations then need no @types/better-sqlite3 (an optional peer, only for `fromStore`).
 */
export interface StoreHandle {
  prepare(sql: string): {
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
  };
  transaction<T>(fn: () => T): () => T;
  pragma(source: string, options: { simple: true }): unknown;
  close(): unknown;
}

export interface StoreReader {
  /** The store file, for messages. */
  readonly file: string;
  /** The read-only connection, opened once on first use. */
  open(): Promise<StoreHandle>;
  /** The master key that opens the store, re-read when the store's check value changes. */
  masterKey(handle: StoreHandle): MasterKey;
  /** Takes the change baseline before a read, so a commit after it is seen by the next poll. */
  markRead(handle: StoreHandle): void;
  /** Calls `onChange` when the store may have changed for `key`; returns the unsubscribe. */
  watch: (key: string, onChange: () => void) => () => void;
  close: () => Promise<void>;
}

/** A secret's row in the store: its kind and its spec as JSON. */
export interface StoredSpec {
  kind: string;
  spec: string;
}

/**
 * One consistent read of `secret` in `environment`: the master key, the secret's row, and what
 * `read` selects, in one read transaction; an unknown environment or secret is an error.
 */
export async function readSecretSnapshot<T>(
  reader: StoreReader,
  target: { secret: string; environment: string },
  read: (handle: StoreHandle) => T,
): Promise<{ key: MasterKey; spec: StoredSpec; rows: T }> {
  const { secret, environment } = target;
  const handle = await reader.open();
  const key = reader.masterKey(handle);
  // The change baseline is taken before reading: a commit after it is seen by the next poll.
  reader.markRead(handle);
  const snapshot = handle.transaction(() => {
    const known =
      handle.prepare('SELECT 1 FROM environments WHERE name = ?').get(environment) !== undefined;
    const spec = handle.prepare('SELECT kind, spec FROM secrets WHERE name = ?').get(secret) as
      StoredSpec | undefined;
    return { known, spec, rows: read(handle) };
  });
  const { known, spec, rows } = snapshot();
  if (!known)
    throw new RotorError(
      'ERR_ROTOR_ENV_UNKNOWN',
      `environment "${environment}" is not in the store at ${reader.file}`,
      { details: { environment } },
    );
  if (!spec)
    throw new RotorError(
      'ERR_ROTOR_SECRET_UNKNOWN',
      `${secret} is not in the store at ${reader.file} (not in rotor.yaml, or not applied)`,
      { details: { secret } },
    );
  return { key, spec, rows };
}

/** The master key that opens this store, without writing anything. */
function loadMasterKeyReadOnly(
  stateDir: string,
  given: string | undefined,
  check: Buffer | undefined,
): MasterKey {
  const matches = (key: MasterKey) => check === undefined || key.matchesCheckValue(check);
  if (given !== undefined) {
    const key = parseMasterKey(given, 'ROTOR_MASTER_KEY');
    if (!matches(key))
      throw new RotorError(
        'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
        'the master key given to the store source does not open this store (wrong key)',
      );
    return key;
  }
  const path = join(stateDir, MASTER_KEY_FILE);
  if (!existsSync(path))
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING',
      `no master key: set ROTOR_MASTER_KEY or pass masterKey (no ${path})`,
    );
  const key = readKeyFile(path);
  if (matches(key)) return key;
  const next = join(stateDir, NEXT_MASTER_KEY_FILE);
  if (existsSync(next)) {
    const rotated = readKeyFile(next);
    if (matches(rotated)) return rotated;
  }
  throw new RotorError(
    'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
    `the master key from ${path} does not open this store (wrong key)`,
  );
}

/**
 * The SQLite file the project's store lives in, as the CLI resolves it (ROTOR_STORE_URL, then the
 * older ROTOR_DATABASE_URL). A store URL naming PostgreSQL is refused: the SQLite file beside the
 * project would be stale (left by `rotor store migrate`) or missing, and reading it would hand the
 * app values the server no longer serves.
 */
function sqliteStoreFile(
  dir: string,
  stateDir: string,
  env: NodeJS.ProcessEnv,
  invalid: (message: string) => RotorError,
): string {
  const name = env.ROTOR_STORE_URL ? 'ROTOR_STORE_URL' : 'ROTOR_DATABASE_URL';
  const url = env.ROTOR_STORE_URL || env.ROTOR_DATABASE_URL;
  if (!url) return join(stateDir, 'rotor.db');
  if (url.startsWith('sqlite:')) return resolve(dir, url.slice('sqlite:'.length));
  const kind = /^postgres(ql)?:\/\//.test(url)
    ? 'a PostgreSQL store'
    : 'a store that is not SQLite';
  throw invalid(
    `fromStore and valueFromStore read a local SQLite store, but ${name} names ${kind}: read through \`rotor serve\` instead, with createClient and fromServer from @rotor/sdk/client (rotor/client)`,
  );
}

/**
 * `invalid` builds the caller's own error for bad options or a closed source, so each source
 * keeps its error codes.
 */
export function createStoreReader(
  options: StoreReaderOptions,
  invalid: (message: string) => RotorError,
): StoreReader {
  const env = options.env ?? process.env;
  const pollMs = options.pollMs ?? 500;
  if (!Number.isFinite(pollMs) || pollMs < 10) throw invalid('pollMs must be at least 10');
  const dir = resolve(options.dir ?? process.cwd());
  const stateDir = resolve(dir, options.stateDir ?? env.ROTOR_STATE_DIR ?? '.rotor');
  const file = sqliteStoreFile(dir, stateDir, env, invalid);

  let db: BetterSqlite3.Database | undefined;
  let opening: Promise<BetterSqlite3.Database> | undefined;
  let master: MasterKey | undefined;
  let closed = false;
  const listeners = new Map<string, Set<() => void>>();
  let timer: NodeJS.Timeout | undefined;
  let dataVersion: number | undefined;

  function poll(): void {
    if (!db || closed) return;
    let now: number;
    try {
      now = db.pragma('data_version', { simple: true }) as number;
    } catch {
      return; // busy or briefly unreadable: try again next tick
    }
    // Without a baseline (nothing loaded yet) a first reading counts as a change: one spare reload.
    if (now === dataVersion) return;
    dataVersion = now;
    for (const set of listeners.values()) for (const listener of set) listener();
  }

  return {
    file,
    async open() {
      if (db) return db;
      opening ??= (async () => {
        if (!existsSync(file))
          throw new RotorError('ERR_ROTOR_STORE_NOT_INITIALIZED', `no Rotor store at ${file}`, {
            details: { file },
          });
        // Loaded on first use, so apps that only read their environment never load the native
        // driver, and need not install it (an optional peer of the SDK).
        const { default: Database } = await importPeer(
          'better-sqlite3',
          'fromStore / valueFromStore',
          () => import('better-sqlite3'),
        );
        let handle: BetterSqlite3.Database;
        try {
          handle = new Database(file, { readonly: true, fileMustExist: true });
          // Readers do not wait on writers in WAL mode; keep any wait short, the event loop is the app's.
          handle.pragma('busy_timeout = 100');
        } catch (cause) {
          throw new RotorError(
            'ERR_ROTOR_STORE_CORRUPT',
            `cannot open the Rotor store ${file} read-only`,
            { cause, details: { file } },
          );
        }
        if (closed) {
          handle.close();
          throw invalid('the source is closed');
        }
        db = handle;
        return handle;
      })();
      opening.catch(() => (opening = undefined));
      return opening;
    },
    masterKey(handle) {
      const row = handle.prepare('SELECT value FROM meta WHERE key = ?').get(MASTER_KEY_CHECK) as
        { value: string } | undefined;
      const check = row ? Buffer.from(row.value, 'base64') : undefined;
      if (master && (check === undefined || master.matchesCheckValue(check))) return master;
      master = loadMasterKeyReadOnly(stateDir, options.masterKey ?? env.ROTOR_MASTER_KEY, check);
      return master;
    },
    markRead(handle) {
      dataVersion ??= handle.pragma('data_version', { simple: true }) as number;
    },
    watch(key, onChange) {
      let set = listeners.get(key);
      if (!set) listeners.set(key, (set = new Set()));
      // A fresh function per subscription, so one callback watched twice unsubscribes once.
      const listener = () => onChange();
      set.add(listener);
      if (!timer && !closed) {
        timer = setInterval(poll, pollMs);
        timer.unref();
      }
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(key);
        if (listeners.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      listeners.clear();
      await opening?.catch(() => undefined);
      db?.close();
      db = undefined;
    },
  };
}
