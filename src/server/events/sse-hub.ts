// The open `/v1/events` connections: grant-filtered writes, heartbeats, a cut-off for clients that
// stop reading, and streams that end with their token (docs/security.md).
import type { ServerResponse } from 'node:http';
import type { LiveState, SequencedEvent } from './event-types.js';

/** A client that let this much output pile up is cut off; it will reconnect and resync. */
const MAX_BUFFERED = 1 << 20;

export interface SseConnection {
  res: ServerResponse;
  /** The API token the stream was opened with. */
  tokenId: string;
  /** When that token expires (ms since the epoch), or null. */
  expiresAt: number | null;
  /** The token grant and the request's filter together. */
  allows(secret: string, environment: string): boolean;
}

export interface SseHub {
  add(connection: SseConnection): () => void;
  publish(events: readonly SequencedEvent[]): void;
  size(): number;
  /** Open streams of one token. */
  countFor(tokenId: string): number;
  /** The tokens that have open streams. */
  tokenIds(): string[];
  /** Ends every stream of these tokens now; returns how many ended. */
  closeTokens(tokenIds: ReadonlySet<string>): number;
  /** Ends every stream (server shutdown). */
  closeAll(): void;
}

export function eventId(epoch: string, seq: number): string {
  return `${epoch}.${seq}`;
}

/** `<epoch>.<seq>` → seq, if the id is from this epoch. */
export function parseEventId(epoch: string, id: string | undefined): number | undefined {
  if (!id) return undefined;
  const dot = id.lastIndexOf('.');
  if (dot < 0 || id.slice(0, dot) !== epoch) return undefined;
  const n = Number(id.slice(dot + 1));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function formatEvent(name: string, id: string | undefined, data: unknown): string {
  // JSON.stringify never emits a raw newline, so one `data:` line is enough.
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function snapshotOf(
  states: Iterable<LiveState>,
  allows: SseConnection['allows'],
): LiveState[] {
  const out: LiveState[] = [];
  for (const s of states) if (allows(s.secret, s.environment)) out.push(s);
  return out.sort((a, b) =>
    a.secret === b.secret
      ? a.environment.localeCompare(b.environment)
      : a.secret.localeCompare(b.secret),
  );
}

/** Ends a stream and, shortly after, its socket: a client that stopped reading cannot hold it open. */
function endStream(c: SseConnection): void {
  c.res.end();
  const socket = c.res.socket;
  setImmediate(() => socket?.destroy());
}

export function createSseHub(options: {
  epoch: string;
  heartbeatMs: number;
  now?: () => number;
}): SseHub {
  const now = options.now ?? Date.now;
  const connections = new Set<SseConnection>();
  const byToken = new Map<string, Set<SseConnection>>();
  const remove = (c: SseConnection) => {
    connections.delete(c);
    const set = byToken.get(c.tokenId);
    set?.delete(c);
    if (set?.size === 0) byToken.delete(c.tokenId);
  };
  const write = (c: SseConnection, chunk: string) => {
    if (c.res.destroyed || c.res.writableEnded) return;
    if (c.expiresAt !== null && now() >= c.expiresAt) {
      remove(c);
      endStream(c);
      return;
    }
    if (c.res.writableLength > MAX_BUFFERED) {
      c.res.destroy();
      return;
    }
    c.res.write(chunk);
  };
  const timer = setInterval(() => {
    for (const c of connections) write(c, ': heartbeat\n\n');
  }, options.heartbeatMs);
  timer.unref();
  return {
    add(connection) {
      connections.add(connection);
      let set = byToken.get(connection.tokenId);
      if (!set) byToken.set(connection.tokenId, (set = new Set()));
      set.add(connection);
      return () => remove(connection);
    },
    publish(events) {
      if (connections.size === 0) return;
      // Serialized once per event, not once per connection.
      const chunks = events.map((e) => ({
        e: e.event,
        text: formatEvent('rotation', eventId(options.epoch, e.seq), e.event),
      }));
      for (const c of connections) {
        let out = '';
        for (const { e, text } of chunks) if (c.allows(e.secret, e.environment)) out += text;
        if (out) write(c, out);
      }
    },
    size: () => connections.size,
    countFor: (tokenId) => byToken.get(tokenId)?.size ?? 0,
    tokenIds: () => [...byToken.keys()],
    closeTokens(tokenIds) {
      let ended = 0;
      for (const id of tokenIds) {
        for (const c of [...(byToken.get(id) ?? [])]) {
          remove(c);
          endStream(c);
          ended += 1;
        }
      }
      return ended;
    },
    closeAll() {
      clearInterval(timer);
      // End, then cut: a client that stopped reading would otherwise hold the shutdown up.
      for (const c of connections) endStream(c);
      connections.clear();
      byToken.clear();
    },
  };
}
