// Opens the application's session store (rotor.yaml `sessions:`) for `rotor sessions revoke` and
// emergencies, with the SDK's own stores so both sides share tables and keys.
import type { Clock } from '../clock.js';
import { RotorError, isRotorError } from '../errors.js';
import type { SessionsSpec } from '../policy/policy.js';
import type { RotatorContext } from '../rotator/rotator-contract.js';
import { describeConnectError } from './stores/store-errors.js';
import type { TokenStore } from './stores/token-store.js';

/** Opens and checks the configured session store; the caller closes it. */
export async function openSessionStore(
  spec: SessionsSpec | undefined,
  env: NodeJS.ProcessEnv,
): Promise<TokenStore> {
  if (!spec) {
    throw new RotorError(
      'ERR_ROTOR_SESSIONS_NOT_CONFIGURED',
      'no session store is configured: add `sessions: { store: postgres | redis, url: { env: VARIABLE } }` to rotor.yaml, naming the store your app gives rotor/tokens',
    );
  }
  const url = env[spec.urlEnv];
  if (!url) {
    throw new RotorError(
      'ERR_ROTOR_SESSIONS_URL_MISSING',
      `${spec.urlEnv} is not set: it must hold the ${spec.store} URL of the session store (rotor.yaml sessions.url.env)`,
      {
        details: { variable: spec.urlEnv },
      },
    );
  }
  let store: TokenStore;
  if (spec.store === 'postgres') {
    const { createPostgresTokenStore } = await import('./stores/postgres-store.js');
    store = createPostgresTokenStore({ connectionString: url, prefix: spec.prefix, max: 2 });
  } else {
    const { createRedisTokenStore } = await import('./stores/redis-store.js');
    store = createRedisTokenStore({ url, prefix: spec.prefix });
  }
  try {
    await store.init();
  } catch (error) {
    await store.close().catch(() => {});
    if (isRotorError(error))
      throw new RotorError(error.code, `${error.message} (session store URL from ${spec.urlEnv})`, {
        cause: error,
        details: { variable: spec.urlEnv, store: spec.store },
      });
    throw error;
  }
  return store;
}

/**
 * What an emergency rotation in `environment` may use to revoke every session, or undefined
 * when rotor.yaml configures no session store for that environment. The store is opened only
 * if an emergency action calls it; the operator's reason is stored with the revocation.
 */
export function sessionRevoker(
  spec: SessionsSpec | undefined,
  env: NodeJS.ProcessEnv,
  {
    environment,
    clock,
    operatorReason,
  }: { environment: string; clock: Clock; operatorReason?: string },
): RotatorContext<unknown>['sessions'] {
  if (!spec || !spec.environments.includes(environment)) return undefined;
  return {
    store: spec.store,
    async revokeAll(reason, options = {}) {
      const store = await openSessionStore(spec, env);
      try {
        await store.revokeSessions(
          { all: true },
          {
            now: clock.now(),
            reason: operatorReason ? `${reason}: ${operatorReason}` : reason,
            requirePasswordReset: Boolean(options.requirePasswordReset),
          },
        );
      } catch (error) {
        if (isRotorError(error)) throw error;
        throw new RotorError(
          'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
          `the ${spec.store} session store did not take the revocation: ${describeConnectError(error)}`,
          { cause: error },
        );
      } finally {
        await store.close();
      }
    },
  };
}
