// Loads the master key from ROTOR_MASTER_KEY (base64) or `.rotor/master.key` (mode 0600), and
// finishes or undoes a master-key rotation that a crash interrupted (`master.key.next`).
import {
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { RotorError } from '../errors.js';
import { createMasterKey, generateMasterKey, type MasterKey } from './envelope.js';

export const MASTER_KEY_FILE = 'master.key';
export const NEXT_MASTER_KEY_FILE = 'master.key.next';

const BASE64 = /^[A-Za-z0-9+/]{43}=$/;

export function parseMasterKey(text: string, source: string): MasterKey {
  const trimmed = text.trim();
  if (!BASE64.test(trimmed)) {
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID',
      `${source} must hold 32 bytes as base64 (44 characters)`,
      { details: { source } },
    );
  }
  return createMasterKey(Buffer.from(trimmed, 'base64'));
}

/** Reads a master key file, refusing one that other users can read. */
export function readKeyFile(path: string): MasterKey {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID',
      `${path} is readable by other users (mode ${mode.toString(8)}): run chmod 600 ${path}`,
      {
        details: { file: path },
      },
    );
  }
  return parseMasterKey(readFileSync(path, 'utf8'), path);
}

/** Writes a key file atomically with mode 0600 (write temp, fsync, rename). */
export function writeKeyFile(path: string, key: MasterKey): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${key.export()}\n`, { mode: 0o600, flag: 'wx' });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

export interface MasterKeySource {
  stateDir: string;
  env?: NodeJS.ProcessEnv;
}

/** True when the key comes from the environment rather than a file Rotor manages. */
export function masterKeyFromEnv(source: MasterKeySource): boolean {
  return Boolean((source.env ?? process.env).ROTOR_MASTER_KEY);
}

/**
 * Loads the master key and checks it against the store's check value (`check`, when the store
 * has one). A rotation interrupted between the store commit and the file rename is finished
 * here; one interrupted before the commit is undone.
 */
export function loadMasterKey(source: MasterKeySource, check: Buffer | undefined): MasterKey {
  const envValue = (source.env ?? process.env).ROTOR_MASTER_KEY;
  if (envValue) {
    const key = parseMasterKey(envValue, 'ROTOR_MASTER_KEY');
    assertMatches(key, check, 'ROTOR_MASTER_KEY');
    return key;
  }
  const path = join(source.stateDir, MASTER_KEY_FILE);
  const nextPath = join(source.stateDir, NEXT_MASTER_KEY_FILE);
  if (!existsSync(path)) {
    // The store's values are sealed under the lost key: a new key cannot open them, so the only
    // way back is the backup (never `rotor init`, which refuses to make a key for a store).
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING',
      `no master key: ${path} is missing and ROTOR_MASTER_KEY is not set. Restore it from your backup (or set ROTOR_MASTER_KEY to the backed-up key): the stored values open only with the key they were sealed under`,
      { details: { file: path } },
    );
  }
  const key = readKeyFile(path);
  if (existsSync(nextPath) && check) {
    const next = readKeyFile(nextPath);
    if (next.matchesCheckValue(check)) {
      renameSync(nextPath, path);
      return next;
    }
    rmSync(nextPath, { force: true });
  }
  assertMatches(key, check, path);
  return key;
}

function assertMatches(key: MasterKey, check: Buffer | undefined, source: string): void {
  if (check && !key.matchesCheckValue(check)) {
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
      `the master key from ${source} does not open this store (wrong key)`,
      {
        details: { source },
      },
    );
  }
}

/** Creates `.rotor/master.key` if neither it nor ROTOR_MASTER_KEY exists. Returns whether it wrote one. */
export function ensureMasterKeyFile(source: MasterKeySource): boolean {
  if (masterKeyFromEnv(source)) return false;
  const path = join(source.stateDir, MASTER_KEY_FILE);
  if (existsSync(path)) return false;
  writeKeyFile(path, generateMasterKey());
  return true;
}
