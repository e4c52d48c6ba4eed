// `rotor rotate NAME` over HTTP: one journaled rotation per environment, staging first. The
// answer is the engine's result; 200 when every environment succeeded (or went to standby),
// 502 when one failed (the body says where and why; the current version is untouched).
import { z } from 'zod';
import type { RotateRequest, RotateResult } from '../../core/rotation/rotation-engine.js';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute, type ServerDeps } from '../route-def.js';
import { envName, reason, secretParams } from '../schemas.js';

export async function runRotation(deps: ServerDeps, request: FastifyRequest, name: string, body: { environment?: string | undefined; reason?: string | undefined; value?: string | undefined }, emergency: boolean): Promise<RotateResult> {
  const spec = deps.rotor.secret(name);
  if (body.environment) deps.rotor.assertEnvironment(spec, body.environment);
  deps.rotor.rotator(spec.kind);
  const rotateRequest: RotateRequest = {
    secret: name,
    ...(body.environment ? { environments: [body.environment] } : {}),
    method: emergency ? 'emergency' : 'api',
    emergency,
    ...(body.reason ? { reason: body.reason } : {}),
    ...(body.value !== undefined ? { input: body.value } : {}),
  };
  return deps.engine.rotate(actorOf(request), rotateRequest);
}

export const rotateBody = z.strictObject({
  environment: envName.optional().describe('only this environment (default: all of the secret, in policy order)'),
  reason: reason.optional(),
  value: z.string().min(1).max(16_384).optional().describe('the new value, for kinds a person supplies (manual); never logged'),
});

export const rotateRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/secrets/:name/rotate',
    permission: 'rotate',
    summary: 'rotate a secret (create → apply → verify → promote), staging first',
    params: secretParams,
    body: rotateBody,
    async handler({ deps, request, reply, params, body }) {
      const result = await runRotation(deps, request, params.name, body, false);
      reply.code(result.ok ? 200 : 502);
      return { ...result, requestId: request.id };
    },
  }),
];
