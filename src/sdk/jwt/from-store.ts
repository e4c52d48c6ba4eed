// A KeySource over a local Rotor store, read-only: the app opens `.rotor/rotor.db` with its own
// read-only SQLite connection, decrypts the live versions of one environment with the master
// key (checked against the store's check value first), and polls `PRAGMA data_version`, which
// moves whenever another connection (`rotor rotate`, `rotor retire`, the scheduler) commits.
// Polling is one tiny synchronous query every `pollMs`; key sets are rebuilt only on change.
//
// It never writes: no migrations, no finishing of an interrupted master-key rotation (a
// `master.key.next` that opens the store is used as it is, and `rotor` finishes the rename).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { kidDescriptorOf, onRotateOf } from '../../core/delivery/kid-variable.js';
import { openValue, type MasterKey } from '../../core/crypto/envelope.js';
import { MASTER_KEY_FILE, NEXT_MASTER_KEY_FILE, parseMasterKey } from '../../core/crypto/master-key-file.js';
import { RotorError } from '../../core/errors.js';
import { keyVersionFrom } from './key-material.js';
import type { KeySet, KeySource, KeyStage, KeyVersion } from './key-source.js';

/** The store's meta key for the master-key check value (core/context.ts MASTER_KEY_CHECK; not imported, as context pulls in the logger and policy loader). */
export const MASTER_KEY_CHECK_META = 'master_key_check';

export interface FromStoreOptions {
  /** The project directory (default `process.cwd()`); the store is `<dir>/.rotor/rotor.db`. */
  dir?: string;
  /** The state directory, if not `<dir>/.rotor` (or ROTOR_STATE_DIR). */
  stateDir?: string;
  /** The environment whose versions to serve, e.g. `production`. */
  environment: string;
  /** The master key (base64); default ROTOR_MASTER_KEY, then `<stateDir>/master.key`. */
  masterKey?: string;
  /** Where ROTOR_MASTER_KEY / ROTOR_STATE_DIR / ROTOR_DATABASE_URL are read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** How often to look for changes, in ms (default 500). */
  pollMs?: number;
}

interface VersionRowLite {
  id: string;
  stage: string;
  retire_at: number | null;
  compromised: number;
  meta: string;
  ciphertext: Buffer | null;
  wrapped_key: Buffer | null;
}

function sourceError(message: string, cause?: unknown): RotorError {
  return new RotorError('ERR_ROTOR_JWT_SOURCE_INVALID', message, cause === undefined ? {} : { cause });
}

function readKeyFile(path: string): MasterKey {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new RotorError('ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID', `${path} is readable by other users (mode ${mode.toString(8)}): run chmod 600 ${path}`, { details: { file: path } });
  }
  return parseMasterKey(readFileSync(path, 'utf8'), path);
}

/** The master key that opens this store, without writing anything. */
function loadMasterKeyReadOnly(stateDir: string, given: string | undefined, check: Buffer | undefined): MasterKey {
  const matches = (key: MasterKey) => check === undefined || key.matchesCheckValue(check);
  if (given !== undefined) {
    const key = parseMasterKey(given, 'ROTOR_MASTER_KEY');
    if (!matches(key)) throw new RotorError('ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY', 'the master key given to fromStore does not open this store (wrong key)');
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

const LIVE_STAGES: Record<string, KeyStage> = { current: 'current', previous: 'previous', standby: 'standby' };

/**
 * Keys from a local Rotor store, read-only, reloaded when the store changes.
 *
 * @example
 * const source = fromStore({ dir: '/srv/app', environment: 'production' });
 * const keys = createJwtKeys({ secret: 'JWT_ACCESS_SECRET', source, issuer, audience, maxAge: '15m' });
 * await keys.ready();
 * // … on shutdown
 * await keys.close();
 * await source.close();
 */
export function fromStore(options: FromStoreOptions): KeySource {
  const env = options.env ?? process.env;
  if (typeof options.environment !== 'string' || options.environment.length === 0) {
    throw new RotorError('ERR_ROTOR_JWT_OPTIONS_INVALID', 'fromStore needs the environment whose keys to serve, e.g. { environment: "production" }');
  }
  const environment = options.environment;
  const pollMs = options.pollMs ?? 500;
  if (!Number.isFinite(pollMs) || pollMs < 10) throw new RotorError('ERR_ROTOR_JWT_OPTIONS_INVALID', 'pollMs must be at least 10');
  const dir = resolve(options.dir ?? process.cwd());
  const stateDir = resolve(dir, options.stateDir ?? env.ROTOR_STATE_DIR ?? '.rotor');
  const url = env.ROTOR_DATABASE_URL;
  if (url && !url.startsWith('sqlite:')) throw sourceError('fromStore reads a local SQLite store; ROTOR_DATABASE_URL names another kind of store');
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
      // Loaded on first use, so apps that only use fromEnv never load the native driver.
      const { default: Database } = await import('better-sqlite3');
      let handle: BetterSqlite3.Database;
      try {
        handle = new Database(file, { readonly: true, fileMustExist: true });
        // Readers do not wait on writers in WAL mode; keep any wait short, the event loop is the app's.
        handle.pragma('busy_timeout = 100');
      } catch (cause) {
        throw new RotorError('ERR_ROTOR_STORE_CORRUPT', `cannot open the Rotor store ${file} read-only`, { cause, details: { file } });
      }
      if (closed) {
        handle.close();
        throw sourceError('the source is closed');
      }
      db = handle;
      return handle;
    })();
    opening.catch(() => (opening = undefined));
    return opening;
  }

  /**
   * The master key, checked against the store's check value on every load: after
   * `rotor master-key rotate` the cached key no longer matches and is read again (from the
   * rotated key file; a key given by option or environment has to be updated by the operator).
   */
  function masterKey(handle: BetterSqlite3.Database): MasterKey {
    const row = handle.prepare('SELECT value FROM meta WHERE key = ?').get(MASTER_KEY_CHECK_META) as { value: string } | undefined;
    const check = row ? Buffer.from(row.value, 'base64') : undefined;
    if (master && (check === undefined || master.matchesCheckValue(check))) return master;
    master = loadMasterKeyReadOnly(stateDir, options.masterKey ?? env.ROTOR_MASTER_KEY, check);
    return master;
  }

  async function load(secret: string): Promise<KeySet> {
    const handle = await open();
    const key = masterKey(handle);
    // The change baseline is taken before reading: a commit after it is seen by the next poll.
    dataVersion ??= handle.pragma('data_version', { simple: true }) as number;
    // One read transaction, so the spec and the versions are one consistent snapshot.
    const read = handle.transaction(() => {
      const known = handle.prepare('SELECT 1 FROM environments WHERE name = ?').get(environment) !== undefined;
      const spec = handle.prepare('SELECT kind, spec FROM secrets WHERE name = ?').get(secret) as { kind: string; spec: string } | undefined;
      const rows = handle
        .prepare("SELECT id, stage, retire_at, compromised, meta, ciphertext, wrapped_key FROM versions WHERE secret = ? AND environment = ? AND stage IN ('current', 'previous', 'standby', 'retired') ORDER BY created_at")
        .all(secret, environment) as VersionRowLite[];
      return { known, spec, rows };
    });
    const { known, spec, rows } = read();
    if (!known) throw new RotorError('ERR_ROTOR_ENV_UNKNOWN', `environment "${environment}" is not in the store at ${file}`, { details: { environment } });
    if (!spec) throw new RotorError('ERR_ROTOR_SECRET_UNKNOWN', `${secret} is not in the store at ${file} (not in rotor.yaml, or not applied)`, { details: { secret } });
    if (spec.kind !== 'jwt-hmac' && spec.kind !== 'jwt-keypair') {
      throw new RotorError('ERR_ROTOR_JWT_SOURCE_UNSUPPORTED_KIND', `${secret} is a ${spec.kind} secret; JWT keyrings need jwt-hmac or jwt-keypair`, { details: { secret } });
    }
    const onRotate = onRotateOf((JSON.parse(spec.spec) as { config?: unknown }).config);
    const versions: KeyVersion[] = [];
    const retired = new Map<string, 'retired' | 'compromised'>();
    const revision = createHash('sha256').update(`${secret}\0${environment}\0${onRotate}`);
    for (const row of rows) {
      revision.update(`\0${row.id}:${row.stage}:${row.retire_at ?? ''}:${row.compromised}`);
      if (row.stage === 'retired') {
        retired.set(row.id, row.compromised ? 'compromised' : 'retired');
        continue;
      }
      const stage = LIVE_STAGES[row.stage]!;
      const d = kidDescriptorOf(spec.kind, JSON.parse(row.meta) as Record<string, unknown>);
      if (!d || d.kid !== row.id) throw sourceError(`${secret}/${environment} version ${row.id} has no usable kid in its metadata`);
      if (!row.ciphertext || !row.wrapped_key) throw sourceError(`${secret}/${environment} version ${row.id} is ${row.stage} but holds no value`);
      const value = openValue(key, { ciphertext: row.ciphertext, wrappedKey: row.wrapped_key }, { secret, environment, versionId: row.id }).toString('utf8');
      versions.push(
        keyVersionFrom({ secret, ...d, stage, value, ...(stage === 'previous' ? { acceptUntil: row.retire_at ?? 0 } : {}) }),
      );
    }
    return { secret, versions, retired, onRotate, revision: revision.digest('base64url') };
  }

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

  function startPolling(): void {
    if (timer || closed) return;
    timer = setInterval(poll, pollMs);
    timer.unref();
  }

  return {
    load,
    watch(secret, onChange) {
      let set = listeners.get(secret);
      if (!set) listeners.set(secret, (set = new Set()));
      // A fresh function per subscription, so one callback watched twice unsubscribes once.
      const listener = () => onChange();
      set.add(listener);
      startPolling();
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
