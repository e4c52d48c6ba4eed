// GET /metrics behind METRICS_AUTH_TOKEN, itself a Rotor secret: current and in-grace values both
// accepted, compared in constant time (docs/server.md).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Rotor } from '../../core/context.js';
import { RotorError } from '../../core/errors.js';
import { openVersion, versionInStage } from '../../core/vault/versions.js';
import type { ServerPluginOptions } from '../app.js';
import { bearerToken } from '../auth/api-auth.js';
import type { RotorMetrics } from './rotor-metrics.js';

export const METRICS_TOKEN_SECRET = 'METRICS_AUTH_TOKEN';

export interface MetricsPluginOptions {
  metrics: RotorMetrics;
  /** The environment whose METRICS_AUTH_TOKEN guards /metrics (default: `production` if configured, else the last environment). */
  environment?: string;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The values /metrics accepts now: current, and previous while its grace window is open. */
async function acceptedTokens(
  rotor: Pick<Rotor, 'store' | 'masterKey' | 'clock'>,
  environment: string,
): Promise<Buffer[]> {
  const store = await rotor.store();
  const master = await rotor.masterKey();
  const accepted: Buffer[] = [];
  const current = await versionInStage(store.db, METRICS_TOKEN_SECRET, environment, 'current');
  if (current?.ciphertext) accepted.push(digest(openVersion(master, current)));
  const previous = await versionInStage(store.db, METRICS_TOKEN_SECRET, environment, 'previous');
  if (previous?.ciphertext && (previous.retire_at ?? 0) > rotor.clock.now())
    accepted.push(digest(openVersion(master, previous)));
  return accepted;
}

export function metricsEnvironment(environments: readonly string[], chosen?: string): string {
  if (chosen) return chosen;
  return environments.includes('production') ? 'production' : environments.at(-1)!;
}

/** @example buildApp({ rotor, engine, plugins: [metricsPlugin({ metrics })] }) */
export function metricsPlugin(
  options: MetricsPluginOptions,
): FastifyPluginAsync<ServerPluginOptions> {
  return async (app, { deps }) => {
    const { rotor } = deps;
    app.get('/metrics', { config: { permission: 'public' } }, async (request, reply) => {
      const environment = metricsEnvironment(rotor.policy().environments, options.environment);
      const accepted = await acceptedTokens(rotor, environment);
      if (accepted.length === 0) {
        throw new RotorError(
          'ERR_ROTOR_API_NOT_READY',
          `/metrics is closed: ${METRICS_TOKEN_SECRET} has no current value in ${environment} (rotor rotate ${METRICS_TOKEN_SECRET} --env ${environment})`,
        );
      }
      reply.header('www-authenticate', 'Bearer realm="rotor-metrics"');
      const given = digest(bearerToken(request));
      let ok = false;
      for (const value of accepted) ok = timingSafeEqual(given, value) || ok;
      if (!ok)
        throw new RotorError(
          'ERR_ROTOR_API_TOKEN_INVALID',
          `invalid metrics token: send the current ${METRICS_TOKEN_SECRET} of ${environment} as a bearer token`,
        );
      const body = await options.metrics.render();
      return reply.header('content-type', options.metrics.contentType).send(body);
    });
  };
}
