// rotor/client: an app's dependency-free live link to `rotor serve`: values over HTTP, rotations
// over SSE, and heartbeats so `retire` knows nobody still uses the old value (docs/apps.md).
import { RotorError } from '../../core/errors.js';
import { optionsInvalid, resolveClientOptions } from './client-config.js';
import { createClientState, keyOf, type ClientState } from './client-state.js';
import type { ClientOptions, RotorClient } from './client-types.js';
import { streamLoop } from './event-stream.js';
import { heartbeat, heldVersions, sendHeartbeat } from './heartbeat.js';
import { loadCurrent, loadPrevious, refreshAll } from './value-cache.js';

/**
 * Connects an application to a Rotor server.
 *
 * @example
 * const rotor = createClient({ url: 'http://127.0.0.1:7700', token: process.env.ROTOR_TOKEN!, app: 'billing' });
 * const dsn = await rotor.get('DATABASE_URL', 'production');
 * rotor.onChange((e) => console.log(`${e.secret} is now version ${e.versionId}`));
 * // … on shutdown
 * await rotor.close();
 */
export function createClient(options: ClientOptions): RotorClient {
  const state = createClientState(resolveClientOptions(options), sendHeartbeat);
  const stopTimers = startTimers(state);
  if (state.config.stream) void streamLoop(state);
  return publicClient(state, stopTimers);
}

/** Heartbeats every heartbeatMs, refreshes every refreshMs; returns what stops them. */
function startTimers(state: ClientState): () => void {
  const { heartbeatMs, refreshMs, onError } = state.config;
  const heartbeatTimer = setInterval(() => void heartbeat(state).catch(onError), heartbeatMs);
  heartbeatTimer.unref();
  const refreshTimer = refreshMs > 0 ? setInterval(() => refreshAll(state), refreshMs) : undefined;
  refreshTimer?.unref();
  return () => {
    clearInterval(heartbeatTimer);
    if (refreshTimer) clearInterval(refreshTimer);
  };
}

function assertOpen(state: ClientState): void {
  if (state.closed) throw new RotorError('ERR_ROTOR_CLIENT_CLOSED', 'this Rotor client is closed');
}

function publicClient(state: ClientState, stopTimers: () => void): RotorClient {
  return {
    consumerId: state.config.consumerId,
    async get(name, env) {
      return (await this.current(name, env)).value;
    },
    async current(name, env) {
      assertOpen(state);
      const held = state.cache.get(keyOf(name, env))?.current;
      return held ?? loadCurrent(state, name, env);
    },
    async previous(name, env) {
      assertOpen(state);
      const entry = state.cache.get(keyOf(name, env));
      // The server decides what is still in grace (by its clock); keyrings check acceptUntil by theirs.
      if (entry?.previous !== undefined) return entry.previous;
      return loadPrevious(state, name, env);
    },
    state: (name, env) => state.states.get(keyOf(name, env)),
    onChange(listener) {
      state.listeners.add(listener);
      return () => state.listeners.delete(listener);
    },
    versions: () => heldVersions(state),
    ready: (timeoutMs = 10_000) => whenReady(state, timeoutMs),
    connected: () => state.connected,
    heartbeat: () => heartbeat(state),
    close: () => close(state, stopTimers),
  };
}

/** Resolves once the stream delivered its first snapshot; rejects after `timeoutMs`. */
function whenReady(state: ClientState, timeoutMs: number): Promise<void> {
  assertOpen(state);
  if (!state.config.stream)
    return Promise.reject(optionsInvalid('this client was created with stream: false'));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RotorError(
            'ERR_ROTOR_CLIENT_REQUEST_FAILED',
            `the event stream from ${state.config.base} did not connect within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    timer.unref();
  });
  return Promise.race([state.ready, timeout]).finally(() => clearTimeout(timer));
}

async function close(state: ClientState, stopTimers: () => void): Promise<void> {
  if (state.closed) return;
  state.closed = true;
  stopTimers();
  state.abort?.abort();
  state.listeners.clear();
  await state.applying.catch(() => undefined);
}
