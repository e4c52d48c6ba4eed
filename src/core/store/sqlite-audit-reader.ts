// The SQLite store's bulk reader for the audit chain (`AuditReader`): what `rotor audit verify`
// reads instead of Kysely's row objects. Kept apart from sqlite-adapter.ts so that a worker
// thread importing it does not load Kysely, which takes about 100 ms to import.
import BetterSqlite3 from 'better-sqlite3';
import type { AuditReader, AuditReaderSource, AuditRowTuple } from './open-store.js';

// Map the file into memory for bulk reads: SQLite then reads pages in place instead of copying
// each into its page cache (8–20% off a full scan of the audit log). This is the library's
// maximum (2 GiB); a larger file is mapped up to it and read normally past it. Only this
// read-only connection maps the file, so the writer's behaviour is unchanged.
const READER_MMAP_BYTES = 0x7fff0000;

/**
 * Opens a read-only connection for scanning the audit chain: prepared statements in raw mode
 * (rows as arrays), memory-mapped. `config` is `{ file }`; this is the `AuditReaderModule`
 * entry point a worker thread calls, so it must stay a plain export of this module. Driver
 * errors are thrown as they are, for the store's `guard` to map.
 */
export function openAuditReader(config: unknown): AuditReader {
  const { file } = config as { file: string };
  let handle: BetterSqlite3.Database | undefined;
  try {
    handle = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    handle.pragma('busy_timeout = 5000');
    handle.pragma(`mmap_size = ${READER_MMAP_BYTES}`);
    const db = handle;
    const rows = db
      .prepare(
        'SELECT seq, entry, hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
      )
      .raw(true);
    const before = db
      .prepare('SELECT seq, hash FROM audit_events WHERE seq <= ? ORDER BY seq DESC LIMIT 1')
      .raw(true);
    const max = db.prepare('SELECT max(seq) FROM audit_events').pluck();
    return {
      rows: (after, upTo, limit) => rows.all(after, upTo, limit) as AuditRowTuple[],
      rowAtOrBefore: (seq) => before.get(seq) as [number, string] | undefined,
      maxSeq: () => (max.get() as number | null) ?? 0,
      close: () => {
        db.close();
      },
    };
  } catch (error) {
    handle?.close();
    throw error; // mapped by the caller's `guard`, which may be in another thread
  }
}

/** The SQLite store's bulk audit reader: a new connection per scan, openable from worker threads too (this module is `remote.module`). */
export function sqliteAuditReaderSource(file: string): AuditReaderSource {
  const config = { file };
  return { open: () => openAuditReader(config), remote: { module: import.meta.url, config } };
}
