// The public shapes of rotor/client.

import type { KeyInfo, LiveState } from '../../core/delivery/live-state.js';

export type { KeyInfo, LiveState };

/** What `onChange` listeners receive: the new state, after the client has fetched the new value. */
export interface ChangeEvent extends LiveState {
  /** `rotation`: a new current version; `retire`: the previous one went; `removed`: nothing is live. */
  change: 'rotation' | 'retire' | 'removed' | 'snapshot';
  replacedVersionId: string | null;
  /** When the server saw the change (ISO). */
  at?: string;
  /** When this client received the announcement (ms since epoch), before fetching the value: propagation lag is `receivedAt - Date.parse(at)`. */
  receivedAt: number;
}

/** One value the client holds. */
export interface HeldValue {
  secret: string;
  environment: string;
  versionId: string;
  value: string;
  /** For a previous value: when its grace window ends (ms since epoch). */
  retireAt: number | null;
}

export interface HeldVersion {
  secret: string;
  environment: string;
  version: string;
}

export interface ClientOptions {
  /** The Rotor server, e.g. `https://rotor.internal:8443`. */
  url: string;
  /** An `app` API token (`rotor token create --role app --secret 'JWT_*' --env production`). */
  token: string;
  /** This application's name, shown to operators (default `app`). */
  app?: string;
  /** This process's consumer id (default: app, host name and a random suffix). */
  consumerId?: string;
  /** A fetch implementation (default the global fetch). */
  fetch?: typeof fetch;
  /** Only these secrets/environments on the stream (globs); default everything the token may read. */
  watch?: { secrets?: string[]; environments?: string[] };
  /** Heartbeat interval in ms (default 15 s; the server counts the client live for 3 of them). */
  heartbeatMs?: number;
  /** Re-read every held value this often in ms as a safety net (default 5 min; 0 = never). */
  refreshMs?: number;
  /** Reconnect backoff bounds in ms (default 250 ms doubling to 15 s). */
  reconnect?: { minMs?: number; maxMs?: number };
  /** A stream silent this long (no data, no heartbeat comment) is reconnected (default 45 s). */
  idleTimeoutMs?: number;
  /**
   * After a rotation that keeps the previous version valid, wait a random 0..spreadMs before
   * fetching the new value, so many clients do not hit the server at once (default 250 ms; 0 =
   * at once). Emergencies are always applied at once.
   */
  spreadMs?: number;
  /** Do not open the event stream (values are still cached and refreshed). */
  stream?: boolean;
  /** Errors of background work (refresh, stream, heartbeat); default: a process warning, no value ever included. */
  onError?(error: unknown): void;
}

export interface RotorClient {
  /** The current value of `name` in `env`, from the cache or fetched once. */
  get(name: string, env: string): Promise<string>;
  /** The current value with its version id. */
  current(name: string, env: string): Promise<HeldValue>;
  /** The previous value while its grace window is open, else null. */
  previous(name: string, env: string): Promise<HeldValue | null>;
  /** The state the stream last announced for `name` in `env` (key info for JWT keyrings). */
  state(name: string, env: string): LiveState | undefined;
  /** Called after a change was applied to the cache; returns the unsubscribe function. */
  onChange(listener: (event: ChangeEvent) => void): () => void;
  /** What the client holds (and reports in heartbeats): the current version of each cached secret. */
  versions(): HeldVersion[];
  /** Resolves once the event stream delivered its first snapshot (rejects after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
  /** Whether the stream is connected now. */
  connected(): boolean;
  /** Sends a heartbeat now (it is also sent every heartbeatMs and after each rotation). */
  heartbeat(): Promise<void>;
  readonly consumerId: string;
  close(): Promise<void>;
}
