// The connection to the server's event stream (`/v1/events`, Server-Sent Events): opened with
// the bearer token and Last-Event-ID, reconnected with backoff, dropped when it goes silent.
import { RotorError } from '../../core/errors.js';
import { failed } from './client-http.js';
import type { ClientState } from './client-state.js';
import type { ClientOptions } from './client-types.js';
import { createSseParser } from './sse-parser.js';
import { handleEvent } from './stream-events.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** The stream's query string for the watched secrets and environments ('' for everything). */
export function streamQuery(watch: ClientOptions['watch']): string {
  const params = new URLSearchParams();
  if (watch?.secrets?.length) params.set('secrets', watch.secrets.join(','));
  if (watch?.environments?.length) params.set('env', watch.environments.join(','));
  return params.size > 0 ? `?${params.toString()}` : '';
}

/** Keeps the stream open until the client closes, reconnecting after each break. */
export async function streamLoop(state: ClientState): Promise<void> {
  const { minMs, maxMs } = state.config.reconnect;
  let delay = minMs;
  while (!state.closed) {
    const startedAt = Date.now();
    try {
      await streamOnce(state);
    } catch (error) {
      if (state.closed) break;
      state.config.onError(
        error instanceof RotorError
          ? error
          : new RotorError(
              'ERR_ROTOR_CLIENT_REQUEST_FAILED',
              `the event stream from ${state.config.base} broke (${(error as Error).message}); reconnecting`,
              { cause: error },
            ),
      );
    }
    if (state.closed) break;
    // A stream that stayed up a while reconnects fast; one that keeps failing backs off.
    if (Date.now() - startedAt > 10_000) delay = minMs;
    await sleep(delay / 2 + Math.random() * (delay / 2));
    delay = Math.min(maxMs, delay * 2);
  }
}

/** Aborts `controller` once `ms` pass without a touch. */
function idleWatch(controller: AbortController, ms: number) {
  let idle: NodeJS.Timeout | undefined;
  return {
    touch: () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Error(`no data for ${ms} ms`)), ms);
      idle.unref();
    },
    stop: () => {
      if (idle) clearTimeout(idle);
    },
  };
}

/** One connection: returns when the server ends the stream, throws when it breaks. */
async function streamOnce(state: ClientState): Promise<void> {
  const { config } = state;
  const controller = new AbortController();
  state.abort = controller;
  const idle = idleWatch(controller, config.idleTimeoutMs);
  try {
    idle.touch();
    const res = await config.fetch(`${config.base}/v1/events${streamQuery(config.watch)}`, {
      headers: {
        ...config.headers,
        accept: 'text/event-stream',
        ...(state.lastEventId ? { 'last-event-id': state.lastEventId } : {}),
      },
      signal: controller.signal,
    });
    if (!res.ok || !res.body) throw await failed(res, 'opening the event stream');
    state.connected = true;
    // Typed `any` chunks in Node's fetch types; the event stream is bytes.
    await readEvents(state, (res.body as ReadableStream<Uint8Array>).getReader(), idle.touch);
  } finally {
    state.connected = false;
    idle.stop();
  }
}

/** Reads the stream to its end, queueing each event to be handled in order. */
async function readEvents(
  state: ClientState,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  touch: () => void,
): Promise<void> {
  const parser = createSseParser(state.lastEventId);
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    touch();
    const receivedAt = Date.now();
    for (const message of parser.push(decoder.decode(value, { stream: true }))) {
      state.lastEventId = message.lastEventId;
      // In order, but without holding up the reading of the stream.
      state.applying = state.applying
        .then(() => handleEvent(state, message.event, message.data, receivedAt))
        .catch(state.config.onError);
    }
  }
}
