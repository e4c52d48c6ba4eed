// `/healthz`: the process answers. `/readyz`: the store opens, takes a write, and the master key
// opens it; 503 with the reason otherwise (a load balancer keeps traffic away until all hold).
import { RotorError, errorInfo } from '../../core/errors.js';
import { defineRoute, type ApiRoute } from '../route-def.js';

export const healthRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/healthz',
    permission: 'public',
    summary: 'liveness: the process is up',
    async handler() {
      return { status: 'ok' };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/readyz',
    permission: 'public',
    summary: 'readiness: the store opens and takes writes, and the master key matches it',
    async handler({ deps }) {
      try {
        const store = await deps.rotor.store();
        await deps.rotor.masterKey();
        await store.guard(() => store.db.selectFrom('meta').select('key').limit(1).execute());
        // Every value read commits an audit row first: a store that cannot be written serves nothing.
        await (await deps.reads()).probeWrite();
      } catch (error) {
        const { code, message } = errorInfo(error);
        throw new RotorError('ERR_ROTOR_API_NOT_READY', `not ready: ${code}: ${message}`, {
          details: { cause: code },
        });
      }
      return { status: 'ready' };
    },
  }),
];
