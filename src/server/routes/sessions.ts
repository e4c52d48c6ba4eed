// `rotor sessions revoke` over HTTP: makes every token issued earlier fail, for one user or all,
// in the app's session store named in rotor.yaml `sessions:`. An emergency action, so it takes
// the emergency permission and a reason.
import { z } from 'zod';
import { revokeSessions } from '../../core/sessions/revoke-sessions.js';
import { actorOf } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { reason } from '../schemas.js';

export const sessionRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/sessions/revoke',
    permission: 'emergency',
    summary:
      'revoke the sessions of one user (userId) or of everyone (all: true) in the app session store',
    body: z.strictObject({
      userId: z.string().min(1).max(200).optional(),
      all: z.boolean().optional(),
      requirePasswordReset: z.boolean().optional(),
      reason,
    }),
    async handler({ deps, request, body }) {
      const result = await revokeSessions(deps.rotor, actorOf(request), {
        ...(body.userId !== undefined ? { userId: body.userId } : {}),
        ...(body.all !== undefined ? { all: body.all } : {}),
        ...(body.requirePasswordReset !== undefined
          ? { requirePasswordReset: body.requirePasswordReset }
          : {}),
        reason: body.reason,
      });
      return { ...result, requestId: request.id };
    },
  }),
];
