// `rotor rotate NAME` over HTTP: one journaled rotation per environment, staging first. The
// answer is the engine's result; 200 when every environment succeeded (or went to standby),
// 502 when one failed (the body says where and why; the current version is untouched).
import { z } from 'zod';
import type { RotateRequest, RotateResult } from '../../core/rotation/rotation-engine.js';
import type { FastifyRequest } from 'fastify';
import { RotorError } from '../../core/errors.js';
import { actorOf } from '../auth/api-auth.js';
import { httpStatusOf } from '../errors.js';
import { defineRoute, type ApiRoute, type ServerDeps } from '../route-def.js';
import { envName, reason, secretParams, suppliedValue } from '../schemas.js';

export async function runRotation(
  deps: ServerDeps,
  request: FastifyRequest,
  name: string,
  body: {
    environment?: string | undefined;
    reason?: string | undefined;
    value?: string | undefined;
    emergency: boolean;
  },
): Promise<RotateResult> {
  const { emergency } = body;
  const spec = deps.rotor.secret(name);
  if (body.environment) deps.rotor.assertEnvironment(spec, body.environment);
  const rotator = deps.rotor.rotator(spec.kind);
  if (rotator.source === 'operator' && body.value === undefined) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_MISSING',
      `${name} is a ${spec.kind} secret: send its new value as body.value`,
      { details: { secret: name, fields: 'body.value' } },
    );
  }
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

/** 200 when it went through; for a failed environment, the status of its error (a bad value is the client's 4xx, an unreachable target a 502). */
export function rotationStatus(result: RotateResult): number {
  if (result.ok) return 200;
  const failed = result.results.find((r) => r.outcome === 'failed' && r.error);
  const status = failed?.error ? httpStatusOf(failed.error.code) : 502;
  return status >= 400 && status < 500 ? status : 502;
}

export const rotateBody = z.strictObject({
  environment: envName
    .optional()
    .describe('only this environment (default: all of the secret, in policy order)'),
  reason: reason.optional(),
  value: suppliedValue,
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
      const result = await runRotation(deps, request, params.name, { ...body, emergency: false });
      reply.code(rotationStatus(result));
      return { ...result, requestId: request.id };
    },
  }),
];
