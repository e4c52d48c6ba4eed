// The audit chain's three reads as portable Kysely queries: the reader of any dialect without
// a faster one of its own, and PostgreSQL's bulk reader.
import type { Kysely } from 'kysely';
import type { AuditReader, AuditRowTuple } from './open-store.js';
import type { Database } from './schema.js';

export function kyselyAuditReader(db: Kysely<Database>): AuditReader {
  return {
    async rows(after, upTo, limit) {
      const rows = await db
        .selectFrom('audit_events')
        .select(['seq', 'entry', 'hash'])
        .where('seq', '>', after)
        .where('seq', '<=', upTo)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map((r): AuditRowTuple => [r.seq, r.entry, r.hash]);
    },
    async rowAtOrBefore(seq) {
      const row = await db
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .where('seq', '<=', seq)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? [row.seq, row.hash] : undefined;
    },
    async maxSeq() {
      const row = await db
        .selectFrom('audit_events')
        .select('seq')
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row?.seq ?? 0;
    },
    close() {},
  };
}
