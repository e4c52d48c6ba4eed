// An `AuditReader` for any store: the dialect's bulk reader where it has one (SQLite), else the
// same three reads as portable Kysely queries, so checkpoint checks run on every dialect.
import { kyselyAuditReader } from '../store/kysely-audit-reader.js';
import type { AuditReader, Store } from '../store/open-store.js';

type ReaderStore = Pick<Store, 'db' | 'guard' | 'auditReader'>;

export async function openChainReader(store: ReaderStore): Promise<AuditReader> {
  if (store.auditReader) {
    const source = store.auditReader;
    return store.guard(async () => source.open());
  }
  return kyselyAuditReader(store.db);
}
