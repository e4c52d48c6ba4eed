// The PostgreSQL store's read path for `rotor serve`'s hot reads: token rows and live-version
// lookups cached in memory and dropped whenever the store's change signal (LISTEN/NOTIFY) fires,
// audit rows committed in groups, and every group checking, in its own transaction, that the
// versions it hands out are still in the stage they were read in. Reasoning: docs/postgresql-store.md.
import { sql, type Kysely } from 'kysely';
import { RotorError } from '../errors.js';
import { findTokenRow } from './token-row.js';
import type { Store } from './open-store.js';
import type { Database, VersionsTable } from './schema.js';
import type {
  AuditRowInsert,
  ChangeWatch,
  LiveVersionRow,
  TokenRow,
} from './store-capabilities.js';

type MaybePromise<T> = T | Promise<T>;

/** Cached token rows and lookups, each (cleared when full). */
const CACHE_SIZE = 1024;

/** The code a group's audit commit rejects with when a version it served left its stage first. */
export const STALE_READ = 'ERR_ROTOR_VERSION_NOT_FOUND';

export interface PostgresFastReads {
  /** The current and previous versions of a secret in an environment, newest first. */
  liveVersions(secret: string, environment: string): MaybePromise<readonly LiveVersionRow[]>;
  /** The whole row of one version, sealed value included. */
  version(id: string): Promise<VersionsTable | undefined>;
  token(id: string): MaybePromise<TokenRow | undefined>;
  /**
   * Notes that `row` is about to be handed out: the next audit commit checks it is still in that
   * stage (with that retire time), and rejects with a stale read if not.
   */
  served(row: LiveVersionRow): void;
  /**
   * One write transaction (the store's write lock) that checks every version `served` since the
   * last call, reads the chain head and inserts the rows `link` returns. A version that left its
   * stage rejects the whole group with `StaleReadError`, having written nothing.
   */
  appendAudit(link: (headHash: string | undefined) => readonly AuditRowInsert[]): Promise<void>;
  /** Drops every cached row (a stale read was caught). */
  forget(): void;
  close(): Promise<void>;
}

/** A group's audit commit found a version it was about to hand out retired or demoted. */
export class StaleReadError extends RotorError {
  constructor(versionId: string) {
    super(STALE_READ, `version ${versionId} left its stage while it was being read`, {
      details: { versionId },
    });
  }
}

/** A cache whose entries are kept only if no change arrived while they were being read. */
function createCache<V>() {
  const rows = new Map<string, V>();
  let generation = 0;
  return {
    get: (key: string) => rows.get(key),
    has: (key: string) => rows.has(key),
    async load(key: string, read: () => Promise<V>): Promise<V> {
      const seen = generation;
      const value = await read();
      if (seen === generation) {
        if (rows.size >= CACHE_SIZE) rows.clear();
        rows.set(key, value);
      }
      return value;
    },
    clear() {
      generation++;
      rows.clear();
    },
  };
}

type Served = Pick<LiveVersionRow, 'id' | 'stage' | 'retire_at'>;

interface Queued {
  link: (headHash: string | undefined) => readonly AuditRowInsert[];
  served: Map<string, Served>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Opens the read path on `store`'s pool, with a change watch of its own; the caller closes it.
 * Until the watch is up nothing is cached.
 * @example
 * const reads = openPostgresFastReads(store);
 * const rows = await reads.liveVersions('DATABASE_URL', 'production');
 */
export function openPostgresFastReads(
  store: Pick<Store, 'db' | 'guard' | 'writeTransaction' | 'changes'>,
): PostgresFastReads {
  const { db, guard } = store;
  const tokens = createCache<TokenRow | undefined>();
  const lookups = createCache<LiveVersionRow[]>();
  let listening = false;
  let closed = false;
  let pending = new Map<string, Served>();
  const forget = () => {
    tokens.clear();
    lookups.clear();
  };
  const watching: Promise<ChangeWatch | undefined> = (
    store.changes?.watch({ onChange: forget }) ?? Promise.resolve(undefined)
  ).then(
    (watch) => {
      if (closed) {
        void Promise.resolve(watch?.close()).catch(() => undefined);
        return undefined;
      }
      listening = watch !== undefined;
      forget();
      return watch;
    },
    () => undefined,
  );

  let queue: Queued[] = [];
  let draining = false;
  /**
   * One audit transaction at a time: groups queued while one commits go into the next, chained
   * in order. PostgreSQL's commit waits for its WAL flush, so concurrent small transactions
   * queued on the write lock would each pay it; merged, a flush is shared by every read queued.
   */
  async function drain(): Promise<void> {
    draining = true;
    while (queue.length > 0) {
      const group = queue;
      queue = [];
      try {
        await store.writeTransaction(async (trx) => {
          const served = new Map<string, Served>();
          for (const g of group) for (const [id, row] of g.served) served.set(id, row);
          let hash = await checkedHead(trx, served);
          const rows: AuditRowInsert[] = [];
          for (const g of group) {
            const linked = g.link(hash);
            rows.push(...linked);
            hash = linked.at(-1)?.hash ?? hash;
          }
          if (rows.length > 0) await trx.insertInto('audit_events').values(rows).execute();
        });
        for (const g of group) g.resolve();
      } catch (error) {
        for (const g of group) g.reject(error);
      }
    }
    draining = false;
  }

  /**
   * The chain head and, in the same statement (one round trip under the write lock), the stage
   * of every version served; throws StaleReadError if one left the stage it was read in.
   */
  async function checkedHead(
    trx: Kysely<Database>,
    served: Map<string, Served>,
  ): Promise<string | undefined> {
    const { rows } = await sql<{ head: string | null; now: Served[] | null }>`SELECT
      (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS head,
      (SELECT json_agg(json_build_object('id', id, 'stage', stage, 'retire_at', retire_at))
         FROM versions WHERE id = ANY(${[...served.keys()]}::text[])) AS now`.execute(trx);
    const byId = new Map((rows[0]?.now ?? []).map((r) => [r.id, r]));
    for (const [id, was] of served) {
      const row = byId.get(id);
      if (!row || row.stage !== was.stage || row.retire_at !== was.retire_at)
        throw new StaleReadError(id);
    }
    return rows[0]?.head ?? undefined;
  }

  return {
    liveVersions(secret, environment) {
      const key = `${secret}\u0000${environment}`;
      const hit = listening ? lookups.get(key) : undefined;
      if (hit) return hit;
      const read = () =>
        guard(() =>
          db
            .selectFrom('versions')
            .select(['id', 'stage', 'retire_at', 'master_key_id'])
            .where('secret', '=', secret)
            .where('environment', '=', environment)
            .where('stage', 'in', ['current', 'previous'])
            .orderBy('created_at', 'desc')
            .execute(),
        );
      return listening ? lookups.load(key, read) : read();
    },
    version: (id) =>
      guard(() => db.selectFrom('versions').selectAll().where('id', '=', id).executeTakeFirst()),
    token(id) {
      if (listening && tokens.has(id)) return tokens.get(id);
      const read = () => findTokenRow(store, id);
      return listening ? tokens.load(id, read) : read();
    },
    served(row) {
      pending.set(row.id, row);
    },
    appendAudit(link) {
      // Taken before the first await: reads noted after this belong to the next group.
      const served = pending;
      pending = new Map();
      return new Promise<void>((resolve, reject) => {
        queue.push({ link, served, resolve, reject });
        if (!draining) void drain();
      });
    },
    forget,
    async close() {
      closed = true;
      listening = false;
      forget();
      await (await watching)?.close();
    },
  };
}
