// JSON/form requests to provider REST APIs with timeouts and jittered retries that honour
// Retry-After; errors name provider and operation, never a credential or response body.
import { randomInt } from 'node:crypto';
import { RotorError } from '../../core/errors.js';

export interface ProviderRequest {
  provider: string;
  /** What the call does, for errors: `POST /v3/api_keys`. */
  operation: string;
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Authorization header value (omitted for calls authenticated by `sign`). */
  authorization?: string;
  /** More headers, the same for every attempt (an Idempotency-Key). */
  headers?: Record<string, string>;
  /** Headers made afresh for each attempt from the exact body text sent (a signature over a timestamp). */
  sign?(body: string): Record<string, string>;
  /** The error for a non-retried refusal (status, parsed body); default: providerMessage-based. */
  refuse?(status: number, body: unknown): RotorError;
  json?: unknown;
  form?: Record<string, string>;
  timeoutMs: number;
  attempts: number;
  /** Who is asking, for error messages: `SMTP_PASSWORD/production`. */
  where: string;
  /** Statuses that are answers, not failures (404 on a delete that already happened). */
  accept?: number[];
}

export interface ProviderResponse {
  status: number;
  body: unknown;
}

const BASE_DELAY_MS = 200;
const MAX_DELAY_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry-After in seconds or as an HTTP date, capped; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 60_000) : undefined;
}

function backoff(attempt: number): number {
  return randomInt(0, Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt) + 1);
}

/** Sends one request with retries; resolves with 2xx (or accepted) answers, throws RotorError otherwise. */
export async function providerRequest(r: ProviderRequest): Promise<ProviderResponse> {
  const headers: Record<string, string> = {
    ...(r.authorization ? { authorization: r.authorization } : {}),
    accept: 'application/json',
    ...r.headers,
  };
  let body: string | undefined;
  if (r.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(r.json);
  } else if (r.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(r.form).toString();
  }
  let last = '';
  for (let attempt = 0; attempt < r.attempts; attempt++) {
    let response: Response;
    try {
      response = await fetch(r.url, {
        method: r.method,
        headers: r.sign ? { ...headers, ...r.sign(body ?? '') } : headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(r.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      last =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${r.timeoutMs} ms`
          : ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name);
      if (attempt + 1 < r.attempts) await sleep(backoff(attempt));
      continue;
    }
    const text = await response.text();
    const parsed = parse(text);
    if (response.ok || r.accept?.includes(response.status))
      return { status: response.status, body: parsed };
    if (response.status === 429 || response.status >= 500) {
      last = `HTTP ${response.status}`;
      if (attempt + 1 < r.attempts)
        await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoff(attempt));
      continue;
    }
    throw r.refuse ? r.refuse(response.status, parsed) : refusal(r, response.status, parsed);
  }
  throw new RotorError(
    'ERR_ROTOR_PROVIDER_UNAVAILABLE',
    `${r.where}: ${r.provider} ${r.operation} failed after ${r.attempts} attempt(s) (${last}); nothing was promoted`,
    {
      details: { provider: r.provider, operation: r.operation },
    },
  );
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The provider's own error message, from the shapes SendGrid, Mailgun and Twilio use. */
function providerMessage(body: unknown): string {
  const b = body as { errors?: { message?: string }[]; message?: string } | undefined;
  const text = b?.errors?.[0]?.message ?? b?.message ?? '';
  // Short and single-line: a provider message never needs more, and a long one may echo input.
  return text.replace(/\s+/g, ' ').slice(0, 200);
}

function refusal(r: ProviderRequest, status: number, body: unknown): RotorError {
  const said = providerMessage(body);
  const details = { provider: r.provider, operation: r.operation, status };
  if (status === 401) {
    return new RotorError(
      'ERR_ROTOR_PROVIDER_AUTH_FAILED',
      `${r.where}: ${r.provider} ${r.operation} refused the admin credential (HTTP 401${said ? `: ${said}` : ''})`,
      { details },
    );
  }
  if (status === 403) {
    return new RotorError(
      'ERR_ROTOR_PROVIDER_PERMISSION_MISSING',
      `${r.where}: ${r.provider} ${r.operation}: the admin credential lacks the permission for this call (HTTP 403${said ? `: ${said}` : ''})`,
      { details },
    );
  }
  return new RotorError(
    'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
    `${r.where}: ${r.provider} ${r.operation} failed (HTTP ${status}${said ? `: ${said}` : ''})`,
    { details },
  );
}
