// What a test's Rotor wrote to its audit log, read straight from the store in the order it was
// written, for tests that check the rows a rotation, rollback or resume left.
import { sql } from 'kysely';
import type { AuditEntry } from '../../src/core/audit/audit-log.js';
import type { Rotor } from '../../src/core/context.js';

/** Every audit entry of `rotor`'s store, oldest first. */
export async function auditEntries(rotor: Rotor): Promise<AuditEntry[]> {
  const rows = await (
    await rotor.store()
  ).db
    .selectFrom('audit_events')
    .select('entry')
    .orderBy(sql`seq`)
    .execute();
  return rows.map((r) => JSON.parse(r.entry) as AuditEntry);
}
