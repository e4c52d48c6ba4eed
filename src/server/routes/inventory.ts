// The inventory (what rotor.yaml declares) and its status per environment (`rotor status`).
import { z } from 'zod';
import { MASTER_KEY_KIND } from '../../core/crypto/master-key-names.js';
import { computeStatus } from '../../core/status/status.js';
import { statusRowJson } from '../../core/status/status-json.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { envName, instant, iso, isoInstant, secretName } from '../schemas.js';

export const inventoryRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/secrets',
    permission: 'inventory.read',
    summary:
      'the inventory: every secret in rotor.yaml with its kind, environments, cadence and owner (no values)',
    async handler({ deps }) {
      const policy = deps.rotor.policy();
      return {
        environments: policy.environments,
        secrets: [...policy.secrets.values()].map((s) => ({
          name: s.name,
          kind: s.kind,
          environments: s.environments,
          cadence: {
            targetMs: s.cadence.targetMs,
            maxMs: s.cadence.maxMs,
            warnMs: s.cadence.warnMs,
          },
          graceMs: s.graceMs,
          owner: s.owner ?? null,
          notes: s.notes ?? null,
          stored: s.kind !== MASTER_KEY_KIND,
        })),
      };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/status',
    permission: 'inventory.read',
    summary:
      'every secret × environment with its age, due dates, grace window and state (`rotor status`)',
    query: z.strictObject({
      secret: secretName.optional(),
      env: envName.optional(),
      at: isoInstant.optional(),
    }),
    async handler({ deps, query }) {
      const store = await deps.rotor.store();
      const now = deps.clock.now();
      const report = await store.guard(() =>
        computeStatus(store, {
          now,
          at: instant(query.at) ?? now,
          ...(query.secret ? { secret: query.secret } : {}),
          ...(query.env ? { environment: query.env } : {}),
        }),
      );
      return { at: iso(report.at), summary: report.summary, rows: report.rows.map(statusRowJson) };
    },
  }),
];
