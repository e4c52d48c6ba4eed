// The portable change signal, for a store whose dialect offers none: every poll counts as a
// change (the caller diffs what it reads), and reads are plain Kysely on the store's connection.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { ChangeSource, ChangeWatch, LiveStateRow } from './store-capabilities.js';

export interface StoreQueries {
  db: Kysely<Database>;
  guard: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** How often the portable watch polls by default: each poll reads every live version. */
const DEFAULT_POLL_MS = 1_000;

/**
 * @example
 * const changes = store.changes ?? pollingChangeSource(store);
 */
export function pollingChangeSource(store: StoreQueries): ChangeSource {
  return {
    watch(options) {
      let running: Promise<void> | undefined;
      let closed = false;
      const check = (): Promise<void> => {
        if (closed) return Promise.resolve();
        running ??= Promise.resolve()
          .then(() => options.onChange())
          .catch((error: unknown) => options.onError?.(error))
          .finally(() => (running = undefined));
        return running;
      };
      const timer = setInterval(() => void check(), options.pollMs ?? DEFAULT_POLL_MS);
      timer.unref();
      const watch: ChangeWatch = {
        ...kyselyChangeReads(store),
        check,
        close() {
          closed = true;
          clearInterval(timer);
        },
      };
      return Promise.resolve(watch);
    },
  };
}

/** The change feed's reads as plain Kysely on the store's connection (any dialect). */
export function kyselyChangeReads(store: StoreQueries): Omit<ChangeWatch, 'check' | 'close'> {
  const { db } = store;
  const guard = <T>(fn: () => Promise<T>) => store.guard(fn);
  return {
    liveStates: () =>
      guard(
        () =>
          db
            .selectFrom('versions')
            .select(['secret', 'environment', 'id', 'stage', 'retire_at'])
            .where('stage', 'in', ['current', 'previous'])
            .execute() as Promise<LiveStateRow[]>,
      ),
    versionKind: (id) =>
      guard(() =>
        db
          .selectFrom('versions as v')
          .innerJoin('secrets as s', 's.name', 'v.secret')
          .select(['s.kind', 's.spec', 'v.meta'])
          .where('v.id', '=', id)
          .executeTakeFirst(),
      ),
    tokenStates: (ids) =>
      ids.length === 0
        ? []
        : guard(() =>
            db
              .selectFrom('api_tokens')
              .select(['id', 'revoked_at', 'expires_at'])
              .where('id', 'in', [...ids])
              .execute(),
          ),
  };
}
