// rotor/client: an app's dependency-free live link to `rotor serve`: values over HTTP, rotations
// over SSE, and heartbeats so `retire` knows nobody still uses the old value (docs/apps.md).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { RotorError } from '../../core/errors.js';
import type {
  ChangeEvent,
  ClientOptions,
  HeldValue,
  HeldVersion,
  LiveState,
  RotorClient,
} from './client-types.js';
import { createSseParser } from './sse-parser.js';
import { coalesce } from './coalesce.js';

interface Entry {
  current?: HeldValue;
  /** undefined: never asked for; null: none in grace. */
  previous?: HeldValue | null;
  loading?: Promise<HeldValue>;
  loadingPrevious?: Promise<HeldValue | null>;
}

interface ValueAnswer {
  versionId: string;
  value: string;
  retireAt: string | null;
}

const keyOf = (secret: string, environment: string) => `${secret}\0${environment}`;
const CONSUMER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

function optionsInvalid(message: string): RotorError {
  return new RotorError('ERR_ROTOR_CLIENT_OPTIONS_INVALID', message);
}

function defaultConsumerId(app: string): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '-')
      .slice(0, 60) || 'host';
  return `${app}@${host}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

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
  if (typeof options !== 'object' || options === null)
    throw optionsInvalid('createClient takes one options object: { url, token, … }');
  if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url))
    throw optionsInvalid('url must be the http(s) address of a Rotor server');
  if (typeof options.token !== 'string' || options.token.length === 0)
    throw optionsInvalid('token must be an API token (rotor token create --role app …)');
  const app = options.app ?? 'app';
  if (!CONSUMER_ID.test(app))
    throw optionsInvalid('app: 1-128 characters, letters, digits and . _ : @ -');
  const consumerId = options.consumerId ?? defaultConsumerId(app);
  if (!CONSUMER_ID.test(consumerId))
    throw optionsInvalid('consumerId: 1-128 characters, letters, digits and . _ : @ -');
  const base = options.url.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  if (!Number.isFinite(heartbeatMs) || heartbeatMs < 1_000)
    throw optionsInvalid('heartbeatMs must be at least 1000');
  const refreshMs = options.refreshMs ?? 5 * 60_000;
  const minMs = options.reconnect?.minMs ?? 250;
  const maxMs = options.reconnect?.maxMs ?? 15_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const spreadMs = options.spreadMs ?? 250;
  const onError = (error: unknown) => {
    if (options.onError) options.onError(error);
    else
      process.emitWarning(
        `rotor/client: ${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}`,
      );
  };
  const headers = { authorization: `Bearer ${options.token}` };

  const cache = new Map<string, Entry>();
  const states = new Map<string, LiveState>();
  const listeners = new Set<(event: ChangeEvent) => void>();
  let closed = false;
  let isConnected = false;
  let lastEventId = '';
  let abort: AbortController | undefined;
  let applying: Promise<void> = Promise.resolve();
  let resolveReady!: () => void;
  const readyPromise = new Promise<void>((resolve) => (resolveReady = resolve));

  function assertOpen(): void {
    if (closed) throw new RotorError('ERR_ROTOR_CLIENT_CLOSED', 'this Rotor client is closed');
  }

  async function request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    try {
      return await fetchImpl(`${base}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new RotorError(
        'ERR_ROTOR_CLIENT_REQUEST_FAILED',
        `${method} ${path.split('?')[0]}: the Rotor server at ${base} is unreachable (${(cause as Error).message})`,
        { cause },
      );
    }
  }

  async function failed(res: Response, what: string): Promise<RotorError> {
    let code = '';
    let message = res.statusText;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? '';
      message = body.error?.message ?? message;
    } catch {
      // not JSON: keep the status text
    }
    return new RotorError(
      'ERR_ROTOR_CLIENT_REQUEST_FAILED',
      `${what}: the Rotor server answered ${res.status}${code ? ` ${code}` : ''}: ${message}`,
      { details: { status: res.status, code } },
    );
  }

  async function fetchValue(
    secret: string,
    environment: string,
    stage: 'current' | 'previous',
  ): Promise<HeldValue | null> {
    const path = `/v1/secrets/${encodeURIComponent(secret)}/value?env=${encodeURIComponent(environment)}&stage=${stage}`;
    const res = await request('GET', path);
    if (stage === 'previous' && res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw await failed(res, `reading ${secret} (${stage}) in ${environment}`);
    const body = (await res.json()) as ValueAnswer;
    return {
      secret,
      environment,
      versionId: body.versionId,
      value: body.value,
      retireAt: body.retireAt === null ? null : Date.parse(body.retireAt),
    };
  }

  function entryOf(secret: string, environment: string): Entry {
    const k = keyOf(secret, environment);
    let entry = cache.get(k);
    if (!entry) cache.set(k, (entry = {}));
    return entry;
  }

  function loadCurrent(secret: string, environment: string): Promise<HeldValue> {
    const entry = entryOf(secret, environment);
    entry.loading ??= (async () => {
      try {
        const fresh = (await fetchValue(secret, environment, 'current'))!;
        const known = entry.current;
        entry.current = fresh;
        // The version it replaced is the previous one now: kept without another (audited) read.
        if (known && known.versionId !== fresh.versionId) {
          const state = states.get(keyOf(secret, environment));
          entry.previous =
            state?.previousVersionId === known.versionId
              ? { ...known, retireAt: state.retireAt ? Date.parse(state.retireAt) : null }
              : undefined;
        }
        if (!known) void heartbeat().catch(onError);
        return fresh;
      } finally {
        entry.loading = undefined;
      }
    })();
    return entry.loading;
  }

  function loadPrevious(secret: string, environment: string): Promise<HeldValue | null> {
    const entry = entryOf(secret, environment);
    entry.loadingPrevious ??= (async () => {
      try {
        const prev = await fetchValue(secret, environment, 'previous');
        entry.previous = prev;
        return prev;
      } finally {
        entry.loadingPrevious = undefined;
      }
    })();
    return entry.loadingPrevious;
  }

  function versions(): HeldVersion[] {
    const out: HeldVersion[] = [];
    for (const entry of cache.values())
      if (entry.current)
        out.push({
          secret: entry.current.secret,
          environment: entry.current.environment,
          version: entry.current.versionId,
        });
    return out;
  }

  async function sendHeartbeat(): Promise<void> {
    const res = await request('POST', '/v1/consumers/heartbeat', {
      consumerId,
      app,
      intervalMs: heartbeatMs,
      holds: versions(),
    });
    if (!res.ok) throw await failed(res, 'heartbeat');
    await res.body?.cancel();
  }

  /** Coalesced: at most one in flight, and one more after it if asked meanwhile. */
  const heartbeats = coalesce(sendHeartbeat, () => closed);
  function heartbeat(): Promise<void> {
    return closed ? Promise.resolve() : heartbeats.run();
  }

  function emit(event: ChangeEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        onError(error);
      }
    }
  }

  /** Brings the cache in line with an announced state; true if it now holds a new current version. */
  async function apply(state: LiveState): Promise<boolean> {
    const k = keyOf(state.secret, state.environment);
    states.set(k, state);
    const entry = cache.get(k);
    if (!entry?.current) return false;
    if (state.versionId === null) {
      cache.delete(k);
      return false;
    }
    let moved = false;
    if (entry.current.versionId !== state.versionId) {
      const before = entry.current.versionId;
      let fresh = await loadCurrent(state.secret, state.environment);
      // A load already in flight when the event came may have read the version before it.
      if (fresh.versionId === before) fresh = await loadCurrent(state.secret, state.environment);
      moved = fresh.versionId !== before;
    }
    if (
      entry.previous !== undefined &&
      (entry.previous?.versionId ?? null) !== state.previousVersionId
    ) {
      if (state.previousVersionId === null) entry.previous = null;
      else await loadPrevious(state.secret, state.environment);
    } else if (entry.previous && state.retireAt) {
      entry.previous.retireAt = Date.parse(state.retireAt);
    }
    return moved;
  }

  async function handle(name: string, data: string, receivedAt: number): Promise<void> {
    if (name === 'rotation') {
      const event = { ...(JSON.parse(data) as Omit<ChangeEvent, 'receivedAt'>), receivedAt };
      // A rotation with a grace window leaves the held value valid, so the fetch waits a random
      // moment: a thousand clients do not all read in the same millisecond. An emergency (no
      // previous version) is applied at once. Either way, I/O already waiting is read first.
      const delay =
        event.previousVersionId !== null && spreadMs > 0 ? Math.floor(Math.random() * spreadMs) : 0;
      await new Promise<void>((resolve) =>
        delay > 0 ? setTimeout(resolve, delay) : setImmediate(resolve),
      );
      const moved = await apply(event).catch((error: unknown) => {
        onError(error);
        return false;
      });
      if (moved) await heartbeat().catch(onError);
      emit(event);
    } else if (name === 'snapshot') {
      const { versions: list } = JSON.parse(data) as { versions: LiveState[] };
      let moved = false;
      const changed: ChangeEvent[] = [];
      for (const state of list) {
        const before = states.get(keyOf(state.secret, state.environment));
        const held = cache.get(keyOf(state.secret, state.environment))?.current?.versionId;
        const differs =
          (held !== undefined && held !== state.versionId) ||
          (before !== undefined &&
            (before.versionId !== state.versionId ||
              before.previousVersionId !== state.previousVersionId));
        const didMove = await apply(state).catch((error: unknown) => {
          onError(error);
          return false;
        });
        moved ||= didMove;
        if (differs)
          changed.push({
            ...state,
            change: 'snapshot',
            replacedVersionId: before?.versionId ?? held ?? null,
            receivedAt,
          });
      }
      if (moved) await heartbeat().catch(onError);
      resolveReady();
      for (const event of changed) emit(event);
    }
  }

  async function streamOnce(): Promise<void> {
    const params = new URLSearchParams();
    if (options.watch?.secrets?.length) params.set('secrets', options.watch.secrets.join(','));
    if (options.watch?.environments?.length)
      params.set('env', options.watch.environments.join(','));
    const query = params.size > 0 ? `?${params.toString()}` : '';
    const controller = new AbortController();
    abort = controller;
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(
        () => controller.abort(new Error(`no data for ${idleTimeoutMs} ms`)),
        idleTimeoutMs,
      );
      idle.unref();
    };
    try {
      touch();
      const res = await fetchImpl(`${base}/v1/events${query}`, {
        headers: {
          ...headers,
          accept: 'text/event-stream',
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        signal: controller.signal,
      });
      if (!res.ok || !res.body) throw await failed(res, 'opening the event stream');
      isConnected = true;
      const parser = createSseParser(lastEventId);
      const decoder = new TextDecoder();
      // Typed `any` chunks in Node's fetch types; the event stream is bytes.
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        touch();
        const receivedAt = Date.now();
        for (const message of parser.push(decoder.decode(value, { stream: true }))) {
          lastEventId = message.lastEventId;
          // In order, but without holding up the reading of the stream.
          applying = applying
            .then(() => handle(message.event, message.data, receivedAt))
            .catch(onError);
        }
      }
    } finally {
      isConnected = false;
      if (idle) clearTimeout(idle);
    }
  }

  async function streamLoop(): Promise<void> {
    let delay = minMs;
    while (!closed) {
      const startedAt = Date.now();
      try {
        await streamOnce();
      } catch (error) {
        if (closed) break;
        onError(
          error instanceof RotorError
            ? error
            : new RotorError(
                'ERR_ROTOR_CLIENT_REQUEST_FAILED',
                `the event stream from ${base} broke (${(error as Error).message}); reconnecting`,
                { cause: error },
              ),
        );
      }
      if (closed) break;
      // A stream that stayed up a while reconnects fast; one that keeps failing backs off.
      if (Date.now() - startedAt > 10_000) delay = minMs;
      await sleep(delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(maxMs, delay * 2);
    }
  }

  const heartbeatTimer = setInterval(() => void heartbeat().catch(onError), heartbeatMs);
  heartbeatTimer.unref();
  const refreshTimer =
    refreshMs > 0
      ? setInterval(() => {
          for (const entry of cache.values())
            if (entry.current)
              void loadCurrent(entry.current.secret, entry.current.environment).catch(onError);
        }, refreshMs)
      : undefined;
  refreshTimer?.unref();
  if (options.stream !== false) void streamLoop();

  return {
    consumerId,
    async get(name, env) {
      return (await this.current(name, env)).value;
    },
    async current(name, env) {
      assertOpen();
      const held = cache.get(keyOf(name, env))?.current;
      return held ?? loadCurrent(name, env);
    },
    async previous(name, env) {
      assertOpen();
      const entry = cache.get(keyOf(name, env));
      // The server decides what is still in grace (by its clock); keyrings check acceptUntil by theirs.
      if (entry?.previous !== undefined) return entry.previous;
      return loadPrevious(name, env);
    },
    state: (name, env) => states.get(keyOf(name, env)),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    versions,
    ready(timeoutMs = 10_000) {
      assertOpen();
      if (options.stream === false)
        return Promise.reject(optionsInvalid('this client was created with stream: false'));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new RotorError(
                'ERR_ROTOR_CLIENT_REQUEST_FAILED',
                `the event stream from ${base} did not connect within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
        timer.unref();
      });
      return Promise.race([readyPromise, timeout]).finally(() => clearTimeout(timer));
    },
    connected: () => isConnected,
    heartbeat,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeatTimer);
      if (refreshTimer) clearInterval(refreshTimer);
      abort?.abort();
      listeners.clear();
      await applying.catch(() => undefined);
    },
  };
}
