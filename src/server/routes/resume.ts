// `rotor resume` over HTTP: finishes (after verify) or rolls back (before it) interrupted rotations.
import { z } from 'zod';
import { actorOf } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute } from '../route-def.js';

export const resumeRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/resume',
    permission: 'resume',
    summary: 'finish or roll back interrupted rotations',
    body: z.strictObject({}),
    async handler({ deps, request }) {
      const outcomes = await deps.engine.resume(actorOf(request));
      return { outcomes, requestId: request.id };
    },
  }),
];
