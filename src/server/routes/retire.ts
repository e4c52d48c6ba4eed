// `rotor retire` over HTTP: retires previous versions whose grace window has passed, or at once
// with `now` and a reason.
import { z } from 'zod';
import { actorOf } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { envName, reason, secretName } from '../schemas.js';

export const retireRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/retire',
    permission: 'retire',
    summary:
      'retire previous versions whose grace window has passed (or at once with now + reason)',
    body: z.strictObject({
      secret: secretName.optional().describe('only this secret'),
      environment: envName.optional().describe('only this environment'),
      now: z.boolean().optional().describe('retire even inside the grace window (needs a reason)'),
      force: z
        .boolean()
        .optional()
        .describe('retire even while the old credential has live sessions'),
      reason: reason.optional(),
    }),
    async handler({ deps, request, body }) {
      if (body.secret) {
        const spec = deps.rotor.secret(body.secret);
        if (body.environment) deps.rotor.assertEnvironment(spec, body.environment);
      }
      const retired = await deps.engine.retire(actorOf(request), {
        ...(body.secret ? { secret: body.secret } : {}),
        ...(body.environment ? { environment: body.environment } : {}),
        now: Boolean(body.now),
        ...(body.reason ? { reason: body.reason } : {}),
        ...(body.force ? { force: true } : {}),
      });
      return { retired, requestId: request.id };
    },
  }),
];
