// The PostgreSQL store's change signal: triggers (migration 0008) call pg_notify on one channel
// when versions, secrets, API tokens or meta change, and a dedicated `pg` client LISTENs. While
// that client is down, every poll counts as a change until it reconnects. Reads use the pool.
import type { Client, Notification } from 'pg';
import type { PostgresConnection } from './postgres-adapter.js';
import { kyselyChangeReads, type StoreQueries } from './polling-changes.js';
import type { ChangeSource, ChangeWatch, ChangeWatchOptions } from './store-capabilities.js';

/** The channel the triggers notify (payload: the table's name). */
export const CHANGE_CHANNEL = 'rotor_changes';

/** How often the watch polls while its LISTEN connection is down, and retries it. */
const FALLBACK_POLL_MS = 1_000;
const RECONNECT_MS = 2_000;

interface ListenState {
  client: Client | undefined;
  closed: boolean;
  /** A notification (or a reconnect) not yet passed to onChange. */
  pending: boolean;
  running: Promise<void> | undefined;
}

function changeRunner(state: ListenState, options: ChangeWatchOptions): () => Promise<void> {
  const run = (): Promise<void> => {
    if (state.closed) return Promise.resolve();
    if (state.running) return state.running;
    if (!state.pending && state.client) return Promise.resolve();
    state.pending = false;
    state.running = Promise.resolve()
      .then(() => options.onChange())
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        state.running = undefined;
        // A notification that came while onChange ran: run again so it is not lost.
        if (state.pending) void run();
      });
    return state.running;
  };
  return run;
}

async function listen(target: PostgresConnection): Promise<Client> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    connectionString: target.url,
    ...(target.password !== undefined ? { password: target.password } : {}),
    connectionTimeoutMillis: 10_000,
    application_name: 'rotor-listen',
    keepAlive: true,
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
  } catch (error) {
    client.on('error', () => undefined);
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/**
 * The PostgreSQL store's change signal: one LISTEN connection per watch.
 * @example
 * const store: Store = { ...rest, changes: postgresChangeSource(target, { db, guard }) };
 */
export function postgresChangeSource(
  target: PostgresConnection,
  store: StoreQueries,
): ChangeSource {
  return {
    async watch(options) {
      const state: ListenState = {
        client: undefined,
        closed: false,
        pending: false,
        running: undefined,
      };
      const run = changeRunner(state, options);
      let retry: NodeJS.Timeout | undefined;

      const connect = async (): Promise<void> => {
        retry = undefined;
        if (state.closed) return;
        try {
          const client = await listen(target);
          if (state.closed) return void (await client.end().catch(() => undefined));
          const lost = (error?: unknown): void => {
            if (state.client !== client) return;
            state.client = undefined;
            if (error) options.onError?.(error);
            client.end().catch(() => undefined);
            schedule();
          };
          client.on('notification', (_message: Notification) => {
            state.pending = true;
            void run();
          });
          client.on('error', (error) => lost(error));
          client.on('end', () => lost());
          state.client = client;
          // Commits made while no one listened: look once.
          state.pending = true;
          void run();
        } catch (error) {
          options.onError?.(error);
          schedule();
        }
      };
      const schedule = (): void => {
        if (state.closed || retry) return;
        retry = setTimeout(() => void connect(), RECONNECT_MS);
        retry.unref();
      };
      // While the LISTEN connection is down, `run` calls onChange on every poll.
      const poll = setInterval(() => void run(), Math.max(options.pollMs ?? 0, FALLBACK_POLL_MS));
      poll.unref();
      await connect();

      const watch: ChangeWatch = {
        ...kyselyChangeReads(store),
        check: run,
        async close() {
          state.closed = true;
          clearInterval(poll);
          if (retry) clearTimeout(retry);
          const client = state.client;
          state.client = undefined;
          await client?.end().catch(() => undefined);
        },
      };
      return watch;
    },
  };
}
