// Heartbeats: the client tells the server which versions it holds, so `retire` knows whether
// anybody still uses the old value (docs/apps.md).
import { failed, request } from './client-http.js';
import type { ClientState } from './client-state.js';
import type { HeldVersion } from './client-types.js';

/** What the client holds (and reports): the current version of each cached secret. */
export function heldVersions(state: Pick<ClientState, 'cache'>): HeldVersion[] {
  const out: HeldVersion[] = [];
  for (const entry of state.cache.values())
    if (entry.current)
      out.push({
        secret: entry.current.secret,
        environment: entry.current.environment,
        version: entry.current.versionId,
      });
  return out;
}

/** One heartbeat; the work behind state.heartbeats. */
export async function sendHeartbeat(state: ClientState): Promise<void> {
  const { config } = state;
  const res = await request(config, 'POST', '/v1/consumers/heartbeat', {
    consumerId: config.consumerId,
    app: config.app,
    intervalMs: config.heartbeatMs,
    holds: heldVersions(state),
  });
  if (!res.ok) throw await failed(res, 'heartbeat');
  await res.body?.cancel();
}

/** Coalesced: at most one in flight, and one more after it if asked meanwhile; none once closed. */
export function heartbeat(state: ClientState): Promise<void> {
  return state.closed ? Promise.resolve() : state.heartbeats.run();
}
