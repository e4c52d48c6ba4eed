// A ValueSource over a local Rotor store, read-only, as the JWT `fromStore` source does: the app
// opens `.rotor/rotor.db` with its own read-only SQLite connection, decrypts the current version
// of one secret in one environment with the master key (checked against the store's check value),
// and polls `PRAGMA data_version`, which moves whenever another connection commits (`rotor
// rotate`, `rotor retire`, the scheduler). It never writes.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { openValue, type MasterKey } from '../../core/crypto/envelope.js';
import { MASTER_KEY_FILE, NEXT_MASTER_KEY_FILE, parseMasterKey } from '../../core/crypto/master-key-file.js';
import { RotorError } from '../../core/errors.js';
import { MASTER_KEY_CHECK_META } from '../jwt/from-store.js';
import type { ValueSource } from './value-source.js';

export interface ValueFromStoreOptions {
  /** The project directory (default `process.cwd()`); the store is `<dir>/.rotor/rotor.db`. */
  dir?: string;
  /** The state directory, if not `<dir>/.rotor` (or ROTOR_STATE_DIR). */
  stateDir?: string;
  /** The environment whose current version to read, e.g. `production`. */
  environment: string;
  /** The master key (base64); default ROTOR_MASTER_KEY, then `<stateDir>/master.key`. */
  masterKey?: string;
  /** Where ROTOR_MASTER_KEY / ROTOR_STATE_DIR / ROTOR_DATABASE_URL are read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** How often to look for changes, in ms (default 500). */
  pollMs?: number;
}

function readKeyFile(path: string): MasterKey {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new RotorError('ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID', `${path} is readable by other users (mode ${mode.toString(8)}): run chmod 600 ${path}`, { details: { file: path } });
  }
  return parseMasterKey(readFileSync(path, 'utf8'), path);
}

function loadMasterKeyReadOnly(stateDir: string, given: string | undefined, check: Buffer | undefined): MasterKey {
  const matches = (key: MasterKey) => check === undefined || key.matchesCheckValue(check);
  if (given !== undefined) {
    const key = parseMasterKey(given, 'ROTOR_MASTER_KEY');
    if (!matches(key)) throw new RotorError('ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY', 'the master key given to valueFromStore does not open this store (wrong key)');
    return key;
  }
  const path = join(stateDir, MASTER_KEY_FILE);
  if (!existsSync(path)) throw new RotorError('ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING', `no master key: set ROTOR_MASTER_KEY or pass masterKey (no ${path})`);
  const key = readKeyFile(path);
  if (matches(key)) return key;
  const next = join(stateDir, NEXT_MASTER_KEY_FILE);
  if (existsSync(next)) {
    const rotated = readKeyFile(next);
    if (matches(rotated)) return rotated;
  }
  throw new RotorError('ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY', `the master key from ${path} does not open this store (wrong key)`);
}

/**
 * The current value of a secret from a local Rotor store, read-only, watched for rotations.
 *
 * @example
 * const source = valueFromStore({ dir: '/srv/app', environment: 'production' });
 * const pool = createPool({ secret: 'DATABASE_URL', source });
 */
export function valueFromStore(options: ValueFromStoreOptions): ValueSource {
  const env = options.env ?? process.env;
  if (typeof options.environment !== 'string' || options.environment.length === 0) {
    throw new RotorError('ERR_ROTOR_VALUE_INVALID', 'valueFromStore needs the environment to read, e.g. { environment: "production" }');
  }
  const environment = options.environment;
  const pollMs = options.pollMs ?? 500;
  if (!Number.isFinite(pollMs) || pollMs < 10) throw new RotorError('ERR_ROTOR_VALUE_INVALID', 'pollMs must be at least 10');
  const dir = resolve(options.dir ?? process.cwd());
  const stateDir = resolve(dir, options.stateDir ?? env.ROTOR_STATE_DIR ?? '.rotor');
  const url = env.ROTOR_DATABASE_URL;
  if (url && !url.startsWith('sqlite:')) throw new RotorError('ERR_ROTOR_VALUE_INVALID', 'valueFromStore reads a local SQLite store; ROTOR_DATABASE_URL names another kind of store');
  const file = url ? resolve(dir, url.slice('sqlite:'.length)) : join(stateDir, 'rotor.db');

  let db: BetterSqlite3.Database | undefined;
  let opening: Promise<BetterSqlite3.Database> | undefined;
  let master: MasterKey | undefined;
  let closed = false;
  const listeners = new Map<string, Set<() => void>>();
  let timer: NodeJS.Timeout | undefined;
  let dataVersion: number | undefined;

  async function open(): Promise<BetterSqlite3.Database> {
    if (db) return db;
    opening ??= (async () => {
      if (!existsSync(file)) throw new RotorError('ERR_ROTOR_STORE_NOT_INITIALIZED', `no Rotor store at ${file}`, { details: { file } });
      const { default: Database } = await import('better-sqlite3');
      let handle: BetterSqlite3.Database;
      try {
        handle = new Database(file, { readonly: true, fileMustExist: true });
        handle.pragma('busy_timeout = 100');
      } catch (cause) {
        throw new RotorError('ERR_ROTOR_STORE_CORRUPT', `cannot open the Rotor store ${file} read-only`, { cause, details: { file } });
      }
      if (closed) {
        handle.close();
        throw new RotorError('ERR_ROTOR_VALUE_INVALID', 'the source is closed');
      }
      db = handle;
      return handle;
    })();
    opening.catch(() => (opening = undefined));
    return opening;
  }

  function masterKey(handle: BetterSqlite3.Database): MasterKey {
    const row = handle.prepare('SELECT value FROM meta WHERE key = ?').get(MASTER_KEY_CHECK_META) as { value: string } | undefined;
    const check = row ? Buffer.from(row.value, 'base64') : undefined;
    if (master && (check === undefined || master.matchesCheckValue(check))) return master;
    master = loadMasterKeyReadOnly(stateDir, options.masterKey ?? env.ROTOR_MASTER_KEY, check);
    return master;
  }

  async function load(secret: string): Promise<string> {
    const handle = await open();
    const key = masterKey(handle);
    dataVersion ??= handle.pragma('data_version', { simple: true }) as number;
    const read = handle.transaction(() => {
      const known = handle.prepare('SELECT 1 FROM environments WHERE name = ?').get(environment) !== undefined;
      const spec = handle.prepare('SELECT 1 FROM secrets WHERE name = ?').get(secret) !== undefined;
      const row = handle
        .prepare("SELECT id, ciphertext, wrapped_key FROM versions WHERE secret = ? AND environment = ? AND stage = 'current' ORDER BY created_at DESC LIMIT 1")
        .get(secret, environment) as { id: string; ciphertext: Buffer | null; wrapped_key: Buffer | null } | undefined;
      return { known, spec, row };
    });
    const { known, spec, row } = read();
    if (!known) throw new RotorError('ERR_ROTOR_ENV_UNKNOWN', `environment "${environment}" is not in the store at ${file}`, { details: { environment } });
    if (!spec) throw new RotorError('ERR_ROTOR_SECRET_UNKNOWN', `${secret} is not in the store at ${file} (not in rotor.yaml, or not applied)`, { details: { secret } });
    if (!row || !row.ciphertext || !row.wrapped_key) {
      throw new RotorError('ERR_ROTOR_SECRET_NOT_STORED', `${secret}/${environment} has no current value in the store at ${file}`, { details: { secret, environment } });
    }
    return openValue(key, { ciphertext: row.ciphertext, wrappedKey: row.wrapped_key }, { secret, environment, versionId: row.id }).toString('utf8');
  }

  function poll(): void {
    if (!db || closed) return;
    let now: number;
    try {
      now = db.pragma('data_version', { simple: true }) as number;
    } catch {
      return;
    }
    if (now === dataVersion) return;
    dataVersion = now;
    for (const set of listeners.values()) for (const listener of set) listener();
  }

  return {
    load,
    watch(secret, onChange) {
      let set = listeners.get(secret);
      if (!set) listeners.set(secret, (set = new Set()));
      const listener = () => onChange();
      set.add(listener);
      if (!timer && !closed) {
        timer = setInterval(poll, pollMs);
        timer.unref();
      }
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(secret);
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
