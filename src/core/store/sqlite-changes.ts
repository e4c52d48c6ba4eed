// The SQLite store's change signal: a read-only connection polls `PRAGMA data_version`, which
// moves only when another connection commits (any process, this one's Kysely connection too),
// so a quiet store costs one pragma per poll. Reads for the change feed run on the same connection.
import BetterSqlite3 from 'better-sqlite3';
import type {
  ChangeSource,
  ChangeWatch,
  ChangeWatchOptions,
  LiveStateRow,
  TokenStateRow,
  VersionKindRow,
} from './store-capabilities.js';

function openWatch(file: string, options: ChangeWatchOptions): ChangeWatch {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 100');
  const live = db.prepare<[], LiveStateRow>(
    "SELECT secret, environment, id, stage, retire_at FROM versions WHERE stage IN ('current', 'previous')",
  );
  const kind = db.prepare<[string], VersionKindRow>(
    'SELECT s.kind, s.spec, v.meta FROM versions v JOIN secrets s ON s.name = v.secret WHERE v.id = ?',
  );
  const token = db.prepare<[string], TokenStateRow>(
    'SELECT id, revoked_at, expires_at FROM api_tokens WHERE id = ?',
  );
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seen: number | undefined = dataVersion.get();
  let running: Promise<void> | undefined;
  let closed = false;

  async function changed(): Promise<void> {
    try {
      await options.onChange();
    } catch (error) {
      options.onError?.(error);
    }
  }
  function check(): Promise<void> {
    if (closed) return Promise.resolve();
    if (running) return running;
    try {
      const v = dataVersion.get();
      if (v === seen) return Promise.resolve();
      seen = v;
    } catch (error) {
      // Busy or briefly unreadable: the next poll tries again (data_version is re-read then).
      seen = undefined;
      options.onError?.(error);
      return Promise.resolve();
    }
    running = changed().finally(() => (running = undefined));
    return running;
  }
  const timer = setInterval(() => void check(), options.pollMs ?? 100);
  timer.unref();

  return {
    liveStates: () => (closed ? [] : live.all()),
    versionKind: (id) => (closed ? undefined : kind.get(id)),
    tokenStates(ids) {
      if (closed) return [];
      const rows: TokenStateRow[] = [];
      for (const id of ids) {
        const row = token.get(id);
        if (row) rows.push(row);
      }
      return rows;
    },
    check,
    close() {
      closed = true;
      clearInterval(timer);
      db.close();
    },
  };
}

/** The SQLite store's change signal, on a new read-only connection per watch. */
export function sqliteChangeSource(file: string): ChangeSource {
  return { watch: (options) => Promise.resolve().then(() => openWatch(file, options)) };
}
