// A ValueSource over a local Rotor store, read-only: the current version of one secret in one
// environment, through the shared read-only store reader (own SQLite connection, master key
// checked against the store, `PRAGMA data_version` polling). It never writes.
import { openValue } from '../../core/crypto/envelope.js';
import { RotorError } from '../../core/errors.js';
import { createStoreReader, readSecretSnapshot, type StoreReaderOptions } from '../store-reader.js';
import type { ValueSource } from './value-source.js';

export interface ValueFromStoreOptions extends StoreReaderOptions {
  /** The environment whose current version to read, e.g. `production`. */
  environment: string;
}

/**
 * The current value of a secret from a local Rotor store, read-only, watched for rotations.
 *
 * @example
 * const source = valueFromStore({ dir: '/srv/app', environment: 'production' });
 * const pool = createPool({ secret: 'DATABASE_URL', source });
 */
export function valueFromStore(options: ValueFromStoreOptions): ValueSource {
  if (typeof options.environment !== 'string' || options.environment.length === 0) {
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'valueFromStore needs the environment to read, e.g. { environment: "production" }',
    );
  }
  const environment = options.environment;
  const reader = createStoreReader(
    options,
    (message) => new RotorError('ERR_ROTOR_VALUE_INVALID', message),
  );
  const { file } = reader;

  async function load(secret: string): Promise<string> {
    const { key, rows: row } = await readSecretSnapshot(
      reader,
      { secret, environment },
      (handle) =>
        handle
          .prepare(
            "SELECT id, ciphertext, wrapped_key FROM versions WHERE secret = ? AND environment = ? AND stage = 'current' ORDER BY created_at DESC LIMIT 1",
          )
          .get(secret, environment) as
          { id: string; ciphertext: Buffer | null; wrapped_key: Buffer | null } | undefined,
    );
    if (!row || !row.ciphertext || !row.wrapped_key) {
      throw new RotorError(
        'ERR_ROTOR_SECRET_NOT_STORED',
        `${secret}/${environment} has no current value in the store at ${file}`,
        { details: { secret, environment } },
      );
    }
    return openValue(
      key,
      { ciphertext: row.ciphertext, wrappedKey: row.wrapped_key },
      { secret, environment, versionId: row.id },
    ).toString('utf8');
  }

  return { load, watch: reader.watch, close: reader.close };
}
