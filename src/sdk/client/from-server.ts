// A rotor/jwt KeySource over a Rotor client: the current key and the previous one while its
// grace window is open, fetched through the server's read endpoint, and reloaded as soon as the
// event stream announces a rotation, a retirement or an emergency (within a second).
import {
  KEY_ENCODINGS,
  KID_ALGORITHMS,
  VERSION_ID_PATTERN,
  type KeyEncoding,
  type KidAlgorithm,
} from '../../core/delivery/kid-variable.js';
import { RotorError } from '../../core/errors.js';
import { keyVersionFrom } from '../jwt/key-material.js';
import type { KeySet, KeySource, KeyVersion } from '../jwt/key-source.js';
import type { KeyInfo, RotorClient } from './client-types.js';

export interface FromServerOptions {
  /** The environment whose keys to use, e.g. `production`. */
  env: string;
  /** The secret; if given, the keyring must ask for this one. */
  secret?: string;
  /** How long the first load waits for the event stream's key information (default 10 s). */
  readyTimeoutMs?: number;
}

function sourceError(message: string, details?: Record<string, unknown>): RotorError {
  return new RotorError('ERR_ROTOR_JWT_SOURCE_INVALID', message, details ? { details } : {});
}

function checkedKey(
  secret: string,
  key: KeyInfo | undefined,
): { alg: KidAlgorithm; encoding: KeyEncoding; onRotate: KeyInfo['onRotate'] } {
  if (!key) {
    throw new RotorError(
      'ERR_ROTOR_JWT_SOURCE_UNSUPPORTED_KIND',
      `${secret} is not a JWT key secret on this server (no key information; JWT keyrings need jwt-hmac or jwt-keypair)`,
      { details: { secret } },
    );
  }
  if (
    !(KID_ALGORITHMS as readonly string[]).includes(key.alg) ||
    !(KEY_ENCODINGS as readonly string[]).includes(key.encoding)
  ) {
    throw sourceError(
      `${secret}: the server announced an unusable key (${key.alg}/${key.encoding})`,
      { secret },
    );
  }
  return {
    alg: key.alg as KidAlgorithm,
    encoding: key.encoding as KeyEncoding,
    onRotate: key.onRotate === 'invalidate' ? 'invalidate' : 'dual-validate',
  };
}

/**
 * @example
 * const client = createClient({ url, token, app: 'api' });
 * const keys = createJwtKeys({ secret: 'JWT_ACCESS_SECRET', source: fromServer(client, { env: 'production' }), issuer, audience, maxAge: '15m' });
 * await keys.ready();
 */
export function fromServer(client: RotorClient, options: FromServerOptions): KeySource {
  if (typeof options?.env !== 'string' || options.env.length === 0) {
    throw new RotorError(
      'ERR_ROTOR_JWT_OPTIONS_INVALID',
      'fromServer needs the environment whose keys to use, e.g. { env: "production" }',
    );
  }
  const env = options.env;
  // Kids this source saw leave (retired, or replaced in an emergency), for precise errors.
  const gone = new Map<string, 'retired' | 'compromised'>();

  function assertSecret(secret: string): void {
    if (options.secret !== undefined && options.secret !== secret)
      throw sourceError(`this fromServer source serves ${options.secret}, not ${secret}`, {
        secret,
      });
  }

  return {
    async load(secret): Promise<KeySet> {
      assertSecret(secret);
      if (!client.state(secret, env)) await client.ready(options.readyTimeoutMs ?? 10_000);
      const key = checkedKey(secret, client.state(secret, env)?.key);
      const current = await client.current(secret, env);
      const previous = key.onRotate === 'invalidate' ? null : await client.previous(secret, env);
      const versions: KeyVersion[] = [];
      for (const held of [current, previous]) {
        if (!held) continue;
        if (!VERSION_ID_PATTERN.test(held.versionId))
          throw sourceError(`${secret}/${env}: version ${held.versionId} is not usable as a kid`, {
            secret,
          });
        const stage = held === current ? 'current' : 'previous';
        versions.push(
          keyVersionFrom({
            secret,
            kid: held.versionId,
            alg: key.alg,
            encoding: key.encoding,
            stage,
            value: held.value,
            ...(stage === 'previous' ? { acceptUntil: held.retireAt ?? 0 } : {}),
          }),
        );
      }
      const revision = versions.map((v) => `${v.kid}:${v.stage}:${v.acceptUntil ?? ''}`).join('|');
      return { secret, versions, retired: new Map(gone), onRotate: key.onRotate, revision };
    },
    watch(secret, onChange) {
      assertSecret(secret);
      return client.onChange((event) => {
        if (event.secret !== secret || event.environment !== env) return;
        const live = new Set([event.versionId, event.previousVersionId]);
        if (event.replacedVersionId && !live.has(event.replacedVersionId))
          gone.set(
            event.replacedVersionId,
            event.previousVersionId === null && event.change === 'rotation'
              ? 'compromised'
              : 'retired',
          );
        onChange();
      });
    },
    async close() {
      // The client belongs to the caller, who closes it.
    },
  };
}
