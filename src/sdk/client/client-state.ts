// The one value a client's parts share: its settings, the values it holds, the states the stream
// announced, its listeners and the stream's bookkeeping. Each part takes it as its first argument.
import { coalesce, type Coalesced } from './coalesce.js';
import type { ClientConfig } from './client-config.js';
import type { ChangeEvent, HeldValue, LiveState } from './client-types.js';

/** What the client holds of one secret in one environment. */
export interface Entry {
  current?: HeldValue;
  /** undefined: never asked for; null: none in grace. */
  previous?: HeldValue | null;
  loading?: Promise<HeldValue>;
  loadingPrevious?: Promise<HeldValue | null>;
}

export interface ClientState {
  readonly config: ClientConfig;
  /** Held values by keyOf(secret, environment). */
  readonly cache: Map<string, Entry>;
  /** The state the stream last announced, by keyOf(secret, environment). */
  readonly states: Map<string, LiveState>;
  readonly listeners: Set<(event: ChangeEvent) => void>;
  /** Heartbeats, at most one in flight (heartbeat.ts). */
  readonly heartbeats: Coalesced;
  /** Resolved by the first snapshot. */
  readonly ready: Promise<void>;
  readonly markReady: () => void;
  closed: boolean;
  connected: boolean;
  lastEventId: string;
  /** Aborts the stream connection open now. */
  abort: AbortController | undefined;
  /** The chain of stream events being applied, in order. */
  applying: Promise<void>;
}

export const keyOf = (secret: string, environment: string) => `${secret}\0${environment}`;

/** A fresh state; `sendHeartbeat` is the work its coalesced heartbeats run. */
export function createClientState(
  config: ClientConfig,
  sendHeartbeat: (state: ClientState) => Promise<void>,
): ClientState {
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const state: ClientState = {
    config,
    cache: new Map(),
    states: new Map(),
    listeners: new Set(),
    heartbeats: coalesce(
      () => sendHeartbeat(state),
      () => state.closed,
    ),
    ready,
    markReady,
    closed: false,
    connected: false,
    lastEventId: '',
    abort: undefined,
    applying: Promise.resolve(),
  };
  return state;
}
