// A KeySource over a local Rotor store, read-only: the app reads the live versions of one
// environment through the shared read-only store reader (own SQLite connection, master key
// checked against the store, `PRAGMA data_version` polling) and rebuilds key sets only on change.
import { createHash } from 'node:crypto';
import { kidDescriptorOf, onRotateOf } from '../../core/delivery/kid-variable.js';
import { openValue } from '../../core/crypto/envelope.js';
import { RotorError } from '../../core/errors.js';
import { createStoreReader, readSecretSnapshot, type StoreReaderOptions } from '../store-reader.js';
import { keyVersionFrom } from './key-material.js';
import type { KeySet, KeySource, KeyStage, KeyVersion } from './key-source.js';

export { MASTER_KEY_CHECK_META } from '../store-reader.js';

export interface FromStoreOptions extends StoreReaderOptions {
  /** The environment whose versions to serve, e.g. `production`. */
  environment: string;
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
  return new RotorError(
    'ERR_ROTOR_JWT_SOURCE_INVALID',
    message,
    cause === undefined ? {} : { cause },
  );
}

const LIVE_STAGES: Record<string, KeyStage> = {
  current: 'current',
  previous: 'previous',
  standby: 'standby',
};

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
  if (typeof options.environment !== 'string' || options.environment.length === 0) {
    throw new RotorError(
      'ERR_ROTOR_JWT_OPTIONS_INVALID',
      'fromStore needs the environment whose keys to serve, e.g. { environment: "production" }',
    );
  }
  const environment = options.environment;
  const reader = createStoreReader(options, sourceError);

  async function load(secret: string): Promise<KeySet> {
    // One read transaction, so the spec and the versions are one consistent snapshot.
    const { key, spec, rows } = await readSecretSnapshot(
      reader,
      { secret, environment },
      (handle) =>
        handle
          .prepare(
            "SELECT id, stage, retire_at, compromised, meta, ciphertext, wrapped_key FROM versions WHERE secret = ? AND environment = ? AND stage IN ('current', 'previous', 'standby', 'retired') ORDER BY created_at",
          )
          .all(secret, environment) as VersionRowLite[],
    );
    if (spec.kind !== 'jwt-hmac' && spec.kind !== 'jwt-keypair') {
      throw new RotorError(
        'ERR_ROTOR_JWT_SOURCE_UNSUPPORTED_KIND',
        `${secret} is a ${spec.kind} secret; JWT keyrings need jwt-hmac or jwt-keypair`,
        { details: { secret } },
      );
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
      if (!d || d.kid !== row.id)
        throw sourceError(
          `${secret}/${environment} version ${row.id} has no usable kid in its metadata`,
        );
      if (!row.ciphertext || !row.wrapped_key)
        throw sourceError(
          `${secret}/${environment} version ${row.id} is ${row.stage} but holds no value`,
        );
      const value = openValue(
        key,
        { ciphertext: row.ciphertext, wrappedKey: row.wrapped_key },
        { secret, environment, versionId: row.id },
      ).toString('utf8');
      versions.push(
        keyVersionFrom({
          secret,
          ...d,
          stage,
          value,
          ...(stage === 'previous' ? { acceptUntil: row.retire_at ?? 0 } : {}),
        }),
      );
    }
    return { secret, versions, retired, onRotate, revision: revision.digest('base64url') };
  }

  return { load, watch: reader.watch, close: reader.close };
}
