// Secret values for applications: one secret's current (or in-grace previous) value in one
// environment. Every read is audited (secret, environment, version, token, request id; never
// the value) before the value is sent, and the answer is never cached by intermediaries.
import { z } from 'zod';
import { actorOf, assertSecretGrant } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { envName, iso, secretName } from '../schemas.js';

export const secretRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/secrets/:name/value',
    permission: 'secret.read',
    summary: "read a secret's current value (or its previous one during grace) in one environment; audited",
    params: z.strictObject({ name: secretName }),
    query: z.strictObject({ env: envName, stage: z.enum(['current', 'previous']).optional() }),
    async handler({ deps, request, params, query }) {
      assertSecretGrant(request, params.name, query.env);
      const v = await (await deps.reads()).read(actorOf(request), params.name, query.env, query.stage ?? 'current');
      return { secret: v.secret, environment: v.environment, stage: v.stage, versionId: v.versionId, value: v.value, retireAt: iso(v.retireAt) };
    },
  }),
];
