// rotor/client's options, checked once when the client is created and turned into the settings
// every part of the client reads (defaults filled in, the server address normalised).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { RotorError } from '../../core/errors.js';
import type { ClientOptions } from './client-types.js';

/** The checked settings of one client. */
export interface ClientConfig {
  /** The server address without a trailing slash. */
  base: string;
  headers: { authorization: string };
  fetch: typeof fetch;
  app: string;
  consumerId: string;
  heartbeatMs: number;
  refreshMs: number;
  reconnect: { minMs: number; maxMs: number };
  idleTimeoutMs: number;
  spreadMs: number;
  watch: ClientOptions['watch'];
  stream: boolean;
  /** Reports an error of background work (the caller's onError, else a process warning). */
  onError: (error: unknown) => void;
}

const CONSUMER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export function optionsInvalid(message: string): RotorError {
  return new RotorError('ERR_ROTOR_CLIENT_OPTIONS_INVALID', message);
}

function defaultConsumerId(app: string): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '-')
      .slice(0, 60) || 'host';
  return `${app}@${host}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Checks `options` (throws ERR_ROTOR_CLIENT_OPTIONS_INVALID) and fills in the defaults. */
export function resolveClientOptions(options: ClientOptions): ClientConfig {
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
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  if (!Number.isFinite(heartbeatMs) || heartbeatMs < 1_000)
    throw optionsInvalid('heartbeatMs must be at least 1000');
  return {
    base: options.url.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${options.token}` },
    fetch: options.fetch ?? globalThis.fetch,
    app,
    consumerId,
    heartbeatMs,
    refreshMs: options.refreshMs ?? 5 * 60_000,
    reconnect: {
      minMs: options.reconnect?.minMs ?? 250,
      maxMs: options.reconnect?.maxMs ?? 15_000,
    },
    idleTimeoutMs: options.idleTimeoutMs ?? 45_000,
    spreadMs: options.spreadMs ?? 250,
    watch: options.watch,
    stream: options.stream !== false,
    onError: (error) => reportError(options, error),
  };
}

function reportError(options: ClientOptions, error: unknown): void {
  if (options.onError) options.onError(error);
  else
    process.emitWarning(
      `rotor/client: ${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}`,
    );
}
