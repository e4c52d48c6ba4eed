// One change detector per server: turns version changes by any process into rotation events,
// diffing states rather than timestamps so writers' clocks do not matter.
import { randomBytes } from 'node:crypto';
import { kidDescriptorOf, onRotateOf } from '../../core/delivery/kid-variable.js';
import type { ChangeSource, ChangeWatch, LiveStateRow } from '../../core/store/open-store.js';
import type { KeyInfo, LiveState, SequencedEvent } from './event-types.js';

export interface ChangeFeedOptions {
  /** The store's change signal: `store.changes ?? pollingChangeSource(store)`. */
  source: ChangeSource;
  /** How often a polling source looks for commits, in ms (SQLite default 100: well inside the 1 s promise). */
  pollMs?: number;
  /** How many recent events are kept for `Last-Event-ID` resume (default 1,000). */
  replay?: number;
  /** Wall clock for the events' `at` (default Date.now). */
  now?: () => number;
  onError?(error: unknown): void;
}

export interface ChangeFeed {
  /** Identifies this feed's event ids: a resume id from another epoch (a restarted server) cannot be replayed. */
  readonly epoch: string;
  /** Starts watching and reads the initial state; call once before serving. */
  start(): Promise<void>;
  /** The live state of every secret and environment, as last seen. */
  states(): Iterable<LiveState>;
  /** Events after `seq` if they are all still buffered, else undefined. */
  since(seq: number): SequencedEvent[] | undefined;
  /** The seq of the newest event (0 before any). */
  lastSeq(): number;
  subscribe(listener: (events: SequencedEvent[]) => void): () => void;
  /**
   * Called whenever another connection committed, and awaited before any rotation event of that
   * commit is published: the place to end streams of a token just revoked, so that no event
   * written after the revocation reaches them.
   */
  onStoreChange(listener: () => void | Promise<void>): () => void;
  /** Revocation and expiry of API tokens, read on the watch's connection; a token gone counts as revoked. */
  tokenStates(ids: readonly string[]): Promise<TokenState[]>;
  /** Looks for changes now (tests; the watch does it every pollMs). */
  poll(): Promise<void>;
  close(): void;
}

export interface TokenState {
  id: string;
  revoked_at: number | null;
  expires_at: number | null;
}

const key = (secret: string, environment: string) => `${secret}\0${environment}`;

/** The live versions, one state per secret and environment. */
function statesOf(rows: readonly LiveStateRow[]): Map<string, LiveState> {
  const next = new Map<string, LiveState>();
  for (const r of rows) {
    const k = key(r.secret, r.environment);
    let s = next.get(k);
    if (!s) {
      s = {
        secret: r.secret,
        environment: r.environment,
        versionId: null,
        previousVersionId: null,
        retireAt: null,
      };
      next.set(k, s);
    }
    if (r.stage === 'current') s.versionId = r.id;
    else {
      s.previousVersionId = r.id;
      s.retireAt = r.retire_at === null ? null : new Date(Number(r.retire_at)).toISOString();
    }
  }
  return next;
}

const same = (a: LiveState, b: LiveState) =>
  a.versionId === b.versionId &&
  a.previousVersionId === b.previousVersionId &&
  a.retireAt === b.retireAt;

/** The events that turn `before` into `next`, numbered from `seq + 1`. */
function diffStates(
  before: ReadonlyMap<string, LiveState>,
  next: ReadonlyMap<string, LiveState>,
  at: string,
  seq: number,
): SequencedEvent[] {
  const events: SequencedEvent[] = [];
  for (const [k, s] of next) {
    const was = before.get(k);
    if (was && same(was, s)) continue;
    const change = was?.versionId !== s.versionId ? 'rotation' : 'retire';
    events.push({
      seq: ++seq,
      event: { ...s, change, replacedVersionId: was?.versionId ?? null, at },
    });
  }
  for (const [k, was] of before) {
    if (next.has(k)) continue;
    events.push({
      seq: ++seq,
      event: {
        secret: was.secret,
        environment: was.environment,
        versionId: null,
        previousVersionId: null,
        retireAt: null,
        change: 'removed',
        replacedVersionId: was.versionId,
        at,
      },
    });
  }
  return events;
}

/** A JWT version's key description, for the events of jwt-hmac and jwt-keypair secrets. */
async function keyOf(watch: ChangeWatch, versionId: string | null): Promise<KeyInfo | undefined> {
  if (!versionId) return undefined;
  const row = await watch.versionKind(versionId);
  if (!row || (row.kind !== 'jwt-hmac' && row.kind !== 'jwt-keypair')) return undefined;
  const d = kidDescriptorOf(row.kind, JSON.parse(row.meta) as Record<string, unknown>);
  if (!d) return undefined;
  return {
    alg: d.alg,
    encoding: d.encoding,
    onRotate: onRotateOf((JSON.parse(row.spec) as { config?: unknown }).config),
  };
}

/** Adds each state's key, reusing what `before` knew of the same current version. */
async function withKeys(
  watch: ChangeWatch,
  next: Map<string, LiveState>,
  before: ReadonlyMap<string, LiveState>,
): Promise<void> {
  for (const [k, s] of next) {
    const was = before.get(k);
    if (was && was.versionId === s.versionId && was.key) {
      next.set(k, { ...s, key: was.key });
      continue;
    }
    const info = await keyOf(watch, s.versionId ?? s.previousVersionId);
    if (info) next.set(k, { ...s, key: info });
  }
}

const toNumber = (v: number | null) => (v === null ? null : Number(v));

export function createChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const replaySize = options.replay ?? 1_000;
  const now = options.now ?? Date.now;
  const epoch = randomBytes(6).toString('base64url');
  const listeners = new Set<(events: SequencedEvent[]) => void>();
  const changeListeners = new Set<() => void | Promise<void>>();
  let state = new Map<string, LiveState>();
  const buffer: SequencedEvent[] = [];
  let seq = 0;
  let watch: ChangeWatch | undefined;
  let closed = false;

  async function read(w: ChangeWatch): Promise<Map<string, LiveState> | undefined> {
    const next = statesOf(await w.liveStates());
    await withKeys(w, next, state);
    return closed ? undefined : next;
  }

  async function changed(w: ChangeWatch): Promise<void> {
    for (const listener of [...changeListeners]) await listener();
    const next = await read(w);
    if (!next) return;
    const events = diffStates(state, next, new Date(now()).toISOString(), seq);
    state = next;
    if (events.length === 0) return;
    seq = events[events.length - 1]!.seq;
    buffer.push(...events);
    if (buffer.length > replaySize) buffer.splice(0, buffer.length - replaySize);
    for (const listener of listeners) listener(events);
  }

  return {
    epoch,
    async start() {
      if (watch || closed) return;
      let began!: () => void;
      const ready = new Promise<void>((resolve) => (began = resolve));
      const w = await options.source.watch({
        ...(options.pollMs ? { pollMs: options.pollMs } : {}),
        onChange: () => ready.then(() => changed(w)),
        onError: (error) => options.onError?.(error),
      });
      watch = w;
      const first = closed ? undefined : await read(w);
      if (first) state = first;
      began();
      if (closed) await w.close();
    },
    states: () => state.values(),
    since(after) {
      if (after > seq) return undefined;
      if (after === seq) return [];
      const oldest = buffer[0]?.seq;
      if (oldest === undefined || after < oldest - 1) return undefined;
      return buffer.filter((e) => e.seq > after);
    },
    lastSeq: () => seq,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onStoreChange(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    async tokenStates(ids) {
      if (!watch || closed) return [];
      const rows = new Map((await watch.tokenStates(ids)).map((r) => [r.id, r]));
      return ids.map((id) => {
        const row = rows.get(id);
        return row
          ? { id, revoked_at: toNumber(row.revoked_at), expires_at: toNumber(row.expires_at) }
          : { id, revoked_at: 0, expires_at: null };
      });
    },
    poll: () => (watch && !closed ? watch.check() : Promise.resolve()),
    close() {
      closed = true;
      changeListeners.clear();
      listeners.clear();
      const w = watch;
      watch = undefined;
      if (w) void Promise.resolve(w.close()).catch((error: unknown) => options.onError?.(error));
    },
  };
}
