// The audit log over HTTP: list (newest first by default), verify the hash chain, export as
// md/csv/json. None of these writes to the store.
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { exportAudit, type AuditExportFormat } from '../../core/audit/audit-export.js';
import { listAudit, type AuditFilter } from '../../core/audit/audit-query.js';
import { verifyAuditChain } from '../../core/audit/audit-verify.js';
import { RotorError } from '../../core/errors.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { envName, instant, isoInstant, secretName } from '../schemas.js';

const filterShape = {
  secret: secretName.optional(),
  env: envName.optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z0-9._-]{0,63}$/, 'not an action name (rotate, rotate.promote, read.get)')
    .optional()
    .describe('an action, or a prefix before a dot'),
  since: isoInstant.optional(),
  until: isoInstant.optional(),
};

function filterOf(q: {
  secret?: string | undefined;
  env?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}): AuditFilter {
  const filter: AuditFilter = {};
  if (q.secret) filter.secret = q.secret;
  if (q.env) filter.environment = q.env;
  if (q.action) filter.action = q.action;
  if (q.since) filter.since = instant(q.since)!;
  // A bare date as `until` means the whole day.
  if (q.until) filter.until = instant(q.until)! + (q.until.length === 10 ? 86_400_000 - 1 : 0);
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw new RotorError(
      'ERR_ROTOR_API_VALIDATION',
      'invalid query: query.since is after query.until',
      { details: { fields: 'query.since,query.until' } },
    );
  }
  return filter;
}

const CONTENT_TYPES: Record<AuditExportFormat, string> = {
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

export const auditRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/audit',
    permission: 'audit.read',
    summary: 'audit events, newest first (order=asc for chronological)',
    query: z.strictObject({
      ...filterShape,
      limit: z
        .string()
        .regex(/^\d{1,5}$/, 'a whole number, 0 to 10000')
        .optional()
        .describe('at most this many events (default 50, 0 = up to 10000)'),
      order: z.enum(['asc', 'desc']).optional(),
    }),
    async handler({ deps, query }) {
      const n = query.limit === undefined ? 50 : Number(query.limit);
      if (n > 10_000)
        throw new RotorError(
          'ERR_ROTOR_API_VALIDATION',
          'invalid query: query.limit: at most 10000',
          { details: { fields: 'query.limit' } },
        );
      const limit = n === 0 ? 10_000 : n;
      const store = await deps.rotor.store();
      const events = await listAudit(store, {
        ...filterOf(query),
        limit,
        order: query.order ?? 'desc',
      });
      return { events, count: events.length, limited: events.length === limit };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/audit/verify',
    permission: 'audit.read',
    summary:
      'recompute the hash chain; ok=false names the first edited, deleted, inserted or reordered row',
    query: z.strictObject({
      anchor: z
        .string()
        .regex(/^\d{1,15}:[0-9a-fA-F]{64}$/, 'use SEQ:HASH as an earlier verify returned')
        .optional(),
    }),
    async handler({ deps, query }) {
      const store = await deps.rotor.store();
      let anchor: { seq: number; hash: string } | undefined;
      if (query.anchor) {
        const [seq, hash] = query.anchor.split(':') as [string, string];
        if (Number(seq) < 1)
          throw new RotorError(
            'ERR_ROTOR_API_VALIDATION',
            'invalid query: query.anchor: the sequence number starts at 1',
            { details: { fields: 'query.anchor' } },
          );
        anchor = { seq: Number(seq), hash: hash.toLowerCase() };
      }
      const result = await verifyAuditChain(store, anchor ? { anchor } : {});
      return {
        ...result,
        ...(result.ok
          ? {}
          : { error: { code: 'ERR_ROTOR_AUDIT_CHAIN_BROKEN', message: result.firstBad?.message } }),
      };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/audit/export',
    permission: 'audit.read',
    summary: 'the audit log, oldest first, as md (the runbook table), csv or json',
    query: z.strictObject({ ...filterShape, format: z.enum(['md', 'csv', 'json']).optional() }),
    async handler({ deps, query, reply }) {
      const format: AuditExportFormat = query.format ?? 'json';
      const filter = filterOf(query);
      const store = await deps.rotor.store();
      const out = new PassThrough();
      exportAudit(store, out, { format, filter }).then(
        () => out.end(),
        (error: unknown) => out.destroy(error as Error),
      );
      reply.header('content-type', CONTENT_TYPES[format]);
      reply.header('content-disposition', `attachment; filename="rotor-audit.${format}"`);
      return reply.send(out);
    },
  }),
];
