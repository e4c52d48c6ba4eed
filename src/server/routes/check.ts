// `rotor check` over HTTP: the monitoring verdict (OK, WARNING, CRITICAL, UNKNOWN) with its
// problems. Always 200 when the check ran: the verdict is in the body, not the status.
import { z } from 'zod';
import { evaluateCheck } from '../../core/status/check.js';
import { computeStatus } from '../../core/status/status.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { instant, iso, isoInstant } from '../schemas.js';

export const checkRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/check',
    permission: 'inventory.read',
    summary: 'the monitoring check: status OK/WARNING/CRITICAL/UNKNOWN, plugin code and problems',
    query: z.strictObject({ at: isoInstant.optional() }),
    async handler({ deps, query }) {
      const store = await deps.rotor.store();
      const now = deps.clock.now();
      const at = instant(query.at) ?? now;
      const report = await store.guard(() => computeStatus(store, { now, at }));
      const result = evaluateCheck(report, query.at ? { asOf: iso(at)! } : {});
      return {
        status: result.status,
        code: result.code,
        summary: result.summary,
        at: iso(at),
        counts: result.counts,
        problems: result.problems,
      };
    },
  }),
];
