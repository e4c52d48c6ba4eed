// better-sqlite3's errors as RotorErrors that name the store file: apart from
// sqlite-adapter.ts so that the reading commands' path (sqlite-reads.ts) maps them without Kysely.
import { RotorError } from '../errors.js';
import { appendOnlyRefusal } from './store-errors.js';

const CORRUPT_CODES = new Set([
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT',
  'SQLITE_CORRUPT_VTAB',
  'SQLITE_CANTOPEN',
]);

// Writes that fail for a reason outside Rotor: read-only file or open, disk full, I/O error, a
// lock held longer than the busy timeout. The server answers these 503 (try again later).
const UNAVAILABLE_CODES = /^SQLITE_(READONLY|IOERR|FULL|BUSY|PERM)(_|$)/;

/** Maps a driver error to a RotorError naming the file; other errors pass through. */
export function mapSqliteError(error: unknown, file: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CORRUPT_CODES.has(code)) {
    return new RotorError(
      'ERR_ROTOR_STORE_CORRUPT',
      `the store ${file} is not a readable Rotor database (${code}); restore it from a backup`,
      {
        cause: error,
        details: { file },
      },
    );
  }
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
    return new RotorError(
      'ERR_ROTOR_STORE_UNAVAILABLE',
      `the store ${file} cannot be written (${code}): nothing was changed; check the file's permissions, the disk and other processes holding it`,
      {
        cause: error,
        details: { file, cause: code },
      },
    );
  }
  const refusal = appendOnlyRefusal(error);
  if (refusal) return refusal;
  return error;
}
