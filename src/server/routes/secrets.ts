// Secret values for applications: one secret's current (or in-grace previous) value in one
// environment. Every read is audited (secret, environment, version, token, request id; never
// the value) before the value is sent, and the answer is never cached by intermediaries.
import { z } from 'zod';
import { readJwks } from '../../core/delivery/jwks.js';
import { assertKnownEnvironment, readEnvironmentValues } from '../../core/delivery/read-values.js';
import { RotorError } from '../../core/errors.js';
import { MASTER_KEY_KIND } from '../../core/crypto/master-key-names.js';
import type { TokenPrincipal } from '../../core/tokens/authenticate-token.js';
import { actorOf, assertPermission, assertSecretGrant } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute, type ServerDeps } from '../route-def.js';
import { envName, iso, secretName } from '../schemas.js';

export const secretRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/secrets/:name/value',
    permission: 'secret.read',
    summary:
      "read a secret's current value (or its previous one during grace) in one environment; audited",
    params: z.strictObject({ name: secretName }),
    query: z.strictObject({ env: envName, stage: z.enum(['current', 'previous']).optional() }),
    async handler({ deps, request, params, query }) {
      assertSecretGrant(request, params.name, query.env);
      const v = await (
        await deps.reads()
      ).read(actorOf(request), params.name, query.env, query.stage ?? 'current');
      return {
        secret: v.secret,
        environment: v.environment,
        stage: v.stage,
        versionId: v.versionId,
        value: v.value,
        retireAt: iso(v.retireAt),
      };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/secrets/:name/jwks',
    permission: 'secret.read',
    summary:
      'the public JWK Set of an asymmetric signing secret (`rotor jwks`): current, standby and previous-in-grace keys; audited as read.jwks',
    params: z.strictObject({ name: secretName }),
    query: z.strictObject({ env: envName }),
    async handler({ deps, request, params, query }) {
      assertSecretGrant(request, params.name, query.env);
      const result = await readJwks(deps.rotor, actorOf(request), params.name, query.env);
      return {
        keys: result.jwks.keys,
        published: result.keys.map((k) => ({
          kid: k.kid,
          stage: k.stage,
          alg: k.alg,
          until: iso(k.until),
        })),
      };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/environments/:environment/values',
    permission: 'secret.read',
    summary:
      'every value of one environment the token may read (`rotor export`): current values, and NAME_PREVIOUS during grace; audited as one read.export row',
    params: z.strictObject({ environment: envName }),
    async handler({ deps, request, params }) {
      const principal = assertPermission(request, 'secret.read');
      assertKnownEnvironment(deps.rotor, params.environment);
      const granted = grantedSecrets(deps, principal, params.environment);
      if (granted.length === 0) {
        throw new RotorError(
          'ERR_ROTOR_API_FORBIDDEN',
          `token "${principal.name}" may not read any secret in ${params.environment} (not in its grant)`,
          { details: { role: principal.grant.role } },
        );
      }
      const store = await deps.rotor.store();
      const stored = await store.guard(() =>
        store.db
          .selectFrom('versions')
          .select('secret')
          .distinct()
          .where('environment', '=', params.environment)
          .where('stage', '=', 'current')
          .where('secret', 'in', granted)
          .execute(),
      );
      const withValue = new Set(stored.map((r) => r.secret));
      const readable = granted.filter((name) => withValue.has(name));
      const result =
        readable.length === 0
          ? { values: [] }
          : await readEnvironmentValues(deps.rotor, actorOf(request), {
              environment: params.environment,
              secrets: readable,
              action: 'read.export',
              details: { via: 'api' },
            });
      return {
        environment: params.environment,
        values: result.values.map((v) => ({
          variable: v.variable,
          secret: v.secret,
          stage: v.stage,
          versionId: v.versionId,
          value: v.value,
          retireAt: iso(v.retireAt),
          carries: v.carries ?? 'value',
        })),
        missing: granted.filter((name) => !withValue.has(name)),
      };
    },
  }),
];

/** The secrets of `environment` an app token's grant covers, in policy order (all of them for admin). */
function grantedSecrets(
  deps: ServerDeps,
  principal: TokenPrincipal,
  environment: string,
): string[] {
  return [...deps.rotor.policy().secrets.values()]
    .filter(
      (s) =>
        s.kind !== MASTER_KEY_KIND &&
        s.environments.includes(environment) &&
        principal.grant.allows(s.name, environment),
    )
    .map((s) => s.name);
}
