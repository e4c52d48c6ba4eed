// Emergency rotation over HTTP: no grace, the old version is revoked at once and the kind's
// emergency actions run. A reason is required, as on the command line.
import { z } from 'zod';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { envName, reason, secretParams, suppliedValue } from '../schemas.js';
import { rotationStatus, runRotation } from './rotate.js';

export const emergencyRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/secrets/:name/emergency',
    permission: 'emergency',
    summary:
      'emergency-rotate a secret: no grace window, old version revoked at once, emergency actions run',
    params: secretParams,
    body: z.strictObject({
      environment: envName
        .optional()
        .describe('only this environment (default: all of the secret)'),
      reason,
      value: suppliedValue,
    }),
    async handler({ deps, request, reply, params, body }) {
      const result = await runRotation(deps, request, params.name, { ...body, emergency: true });
      reply.code(rotationStatus(result));
      return { ...result, requestId: request.id };
    },
  }),
];
