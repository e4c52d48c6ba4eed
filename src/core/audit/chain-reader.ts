// An `AuditReader` for any store: the dialect's bulk reader where it has one (SQLite), else the
// same three reads as portable Kysely queries, so checkpoint checks run on every dialect.
import type { AuditReader, AuditRowTuple, Store } from '../store/open-store.js';

type ReaderStore = Pick<Store, 'db' | 'guard' | 'auditReader'>;

export async function openChainReader(store: ReaderStore): Promise<AuditReader> {
  if (store.auditReader) {
    const source = store.auditReader;
    return store.guard(async () => source.open());
  }
  const { db } = store;
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
