// One change detector per server: it polls the store cheaply and turns version changes made by
// any process (this server's engine, `rotor rotate` in a shell, the scheduler) into rotation
// events for every SSE connection. On SQLite it keeps its own read-only connection and reads
// `PRAGMA data_version`, which moves only when another connection commits (the server's own
// writes come through its main connection, so they count too); only then does it re-read the
// live versions (current and previous, by the stage index) and diff them against what it saw.
// Comparing states rather than timestamps keeps it right whatever clocks the writers used.
import { randomBytes } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { kidDescriptorOf, onRotateOf } from '../../core/delivery/kid-variable.js';
import type { KeyInfo, LiveState, SequencedEvent } from './event-types.js';

export interface ChangeFeedOptions {
  /** The SQLite store file (Store.location). */
  file: string;
  /** How often to look at `data_version`, in ms (default 100: well inside the 1 s promise). */
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
  /** Reads the initial state; call once before serving. */
  start(): Promise<void>;
  /** The live state of every secret and environment, as last seen. */
  states(): Iterable<LiveState>;
  /** Events after `seq` if they are all still buffered, else undefined. */
  since(seq: number): SequencedEvent[] | undefined;
  /** The seq of the newest event (0 before any). */
  lastSeq(): number;
  subscribe(listener: (events: SequencedEvent[]) => void): () => void;
  /**
   * Called whenever another connection committed (data_version moved), before any rotation
   * event of that commit is published: the place to end streams of a token just revoked, so
   * that no event written after the revocation reaches them.
   */
  onStoreChange(listener: () => void): () => void;
  /** Revocation and expiry of API tokens, read on this feed's own connection (synchronously). */
  tokenStates(ids: readonly string[]): TokenState[];
  /** Looks for changes now (tests; the timer does it every pollMs). */
  poll(): void;
  close(): void;
}

export interface TokenState {
  id: string;
  revoked_at: number | null;
  expires_at: number | null;
}

interface Row {
  secret: string;
  environment: string;
  id: string;
  stage: 'current' | 'previous';
  retire_at: number | null;
}

const key = (secret: string, environment: string) => `${secret}\0${environment}`;

export function createChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const pollMs = options.pollMs ?? 100;
  const replaySize = options.replay ?? 1_000;
  const now = options.now ?? Date.now;
  const epoch = randomBytes(6).toString('base64url');
  const listeners = new Set<(events: SequencedEvent[]) => void>();
  const changeListeners = new Set<() => void>();
  let state = new Map<string, LiveState>();
  const buffer: SequencedEvent[] = [];
  let seq = 0;
  let db: BetterSqlite3.Database | undefined;
  let live: BetterSqlite3.Statement | undefined;
  let keyInfo: BetterSqlite3.Statement | undefined;
  let tokenState: BetterSqlite3.Statement | undefined;
  let dataVersion: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function keyOf(versionId: string | null): KeyInfo | undefined {
    if (!versionId || !keyInfo) return undefined;
    const row = keyInfo.get(versionId) as { kind: string; spec: string; meta: string } | undefined;
    if (!row || (row.kind !== 'jwt-hmac' && row.kind !== 'jwt-keypair')) return undefined;
    const d = kidDescriptorOf(row.kind, JSON.parse(row.meta) as Record<string, unknown>);
    if (!d) return undefined;
    return {
      alg: d.alg,
      encoding: d.encoding,
      onRotate: onRotateOf((JSON.parse(row.spec) as { config?: unknown }).config),
    };
  }

  function read(): Map<string, LiveState> {
    const next = new Map<string, LiveState>();
    for (const r of live!.all() as Row[]) {
      const k = key(r.secret, r.environment);
      let s = next.get(k);
      if (!s)
        next.set(
          k,
          (s = {
            secret: r.secret,
            environment: r.environment,
            versionId: null,
            previousVersionId: null,
            retireAt: null,
          }),
        );
      if (r.stage === 'current') s.versionId = r.id;
      else {
        s.previousVersionId = r.id;
        s.retireAt = r.retire_at === null ? null : new Date(Number(r.retire_at)).toISOString();
      }
    }
    return next;
  }

  function withKey(s: LiveState, before: LiveState | undefined): LiveState {
    if (before && before.versionId === s.versionId && before.key) return { ...s, key: before.key };
    const k = keyOf(s.versionId ?? s.previousVersionId);
    return k ? { ...s, key: k } : s;
  }

  function diff(): void {
    const next = read();
    const events: SequencedEvent[] = [];
    const at = new Date(now()).toISOString();
    for (const [k, raw] of next) {
      const before = state.get(k);
      const s = withKey(raw, before);
      next.set(k, s);
      if (
        before &&
        before.versionId === s.versionId &&
        before.previousVersionId === s.previousVersionId &&
        before.retireAt === s.retireAt
      )
        continue;
      const change = before?.versionId !== s.versionId ? 'rotation' : 'retire';
      events.push({
        seq: ++seq,
        event: { ...s, change, replacedVersionId: before?.versionId ?? null, at },
      });
    }
    for (const [k, before] of state) {
      if (next.has(k)) continue;
      events.push({
        seq: ++seq,
        event: {
          secret: before.secret,
          environment: before.environment,
          versionId: null,
          previousVersionId: null,
          retireAt: null,
          change: 'removed',
          replacedVersionId: before.versionId,
          at,
        },
      });
    }
    state = next;
    if (events.length === 0) return;
    buffer.push(...events);
    if (buffer.length > replaySize) buffer.splice(0, buffer.length - replaySize);
    for (const listener of listeners) listener(events);
  }

  function poll(): void {
    if (!db || closed) return;
    try {
      const v = db.pragma('data_version', { simple: true }) as number;
      if (v === dataVersion) return;
      dataVersion = v;
      for (const listener of changeListeners) listener();
      diff();
    } catch (error) {
      // Busy or briefly unreadable: the next tick tries again (data_version is re-read then).
      dataVersion = undefined;
      options.onError?.(error);
    }
  }

  return {
    epoch,
    async start() {
      if (db || closed) return;
      const { default: Database } = await import('better-sqlite3');
      db = new Database(options.file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 100');
      live = db.prepare(
        "SELECT secret, environment, id, stage, retire_at FROM versions WHERE stage IN ('current', 'previous')",
      );
      keyInfo = db.prepare(
        'SELECT s.kind, s.spec, v.meta FROM versions v JOIN secrets s ON s.name = v.secret WHERE v.id = ?',
      );
      tokenState = db.prepare('SELECT id, revoked_at, expires_at FROM api_tokens WHERE id = ?');
      dataVersion = db.pragma('data_version', { simple: true }) as number;
      const first = read();
      for (const [k, s] of first) first.set(k, withKey(s, undefined));
      state = first;
      timer = setInterval(poll, pollMs);
      timer.unref();
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
    tokenStates(ids) {
      if (!tokenState || closed) return [];
      const out: TokenState[] = [];
      for (const id of ids) {
        const row = tokenState.get(id) as TokenState | undefined;
        // A token row that is gone counts as revoked.
        out.push(
          row
            ? {
                id,
                revoked_at: row.revoked_at === null ? null : Number(row.revoked_at),
                expires_at: row.expires_at === null ? null : Number(row.expires_at),
              }
            : { id, revoked_at: 0, expires_at: null },
        );
      }
      return out;
    },
    poll,
    close() {
      closed = true;
      changeListeners.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
      listeners.clear();
      db?.close();
      db = undefined;
    },
  };
}
