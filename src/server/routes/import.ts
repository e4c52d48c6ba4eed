// `rotor import` over HTTP: adopts a value a team already uses as the first current version of a
// secret in one environment, with its real last-rotation date. The value is never logged or
// audited; replacing an existing value is what rotate is for (409 here).
import { z } from 'zod';
import { importValue } from '../../core/delivery/import-value.js';
import { actorOf } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { envName, instant, iso, isoInstant, secretParams } from '../schemas.js';

export const importRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/secrets/:name/import',
    permission: 'rotate',
    status: 201,
    summary:
      'adopt an existing value as the first current version in one environment (`rotor import`)',
    params: secretParams,
    body: z.strictObject({
      environment: envName,
      value: z
        .string()
        .min(1)
        .max(16_384)
        .describe('the value in use today; never logged or audited'),
      rotatedAt: isoInstant
        .optional()
        .describe('when it was really last rotated (default: unknown)'),
    }),
    async handler({ deps, request, params, body }) {
      const result = await importValue(deps.rotor, actorOf(request), {
        secret: params.name,
        environment: body.environment,
        value: body.value,
        rotatedAt: instant(body.rotatedAt) ?? null,
      });
      return {
        secret: result.secret,
        environment: result.environment,
        versionId: result.versionId,
        rotatedAt: iso(result.rotatedAt),
        promotedAt: iso(result.promotedAt),
        requestId: request.id,
      };
    },
  }),
];
