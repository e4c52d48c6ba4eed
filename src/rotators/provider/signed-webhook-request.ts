// A signed JSON POST to a team's own rotation endpoint (the `http` kind), with a timeout per
// attempt and retries with exponential backoff and full jitter on network errors, 429 and 5xx,
// honouring Retry-After. provider-http.ts does the same for provider REST APIs but sends one
// fixed Authorization header; this endpoint instead gets Rotor's webhook signature
// (x-rotor-timestamp, x-rotor-signature: v1=HMAC-SHA256 of `<timestamp>.<body>`, as deploy hooks
// and notifications are signed), made afresh for every attempt, and an Idempotency-Key that stays
// the same across attempts. Text the endpoint answers is masked against the values the call
// carries before it can reach an error.
import { randomInt } from 'node:crypto';
import { RotorError } from '../../core/errors.js';
import { createOutputMasker } from '../../core/rotation/stages/mask-output.js';
import { signBody } from '../../core/rotation/stages/run-step.js';

export interface SignedPost {
  /** Who answers, for errors: `Stripe (https://rotator.example/stripe)`. */
  provider: string;
  /** What the call does, for errors: `create`. */
  operation: string;
  url: string;
  key: string;
  body: Record<string, unknown>;
  idempotencyKey: string;
  timeoutMs: number;
  attempts: number;
  /** Who is asking, for errors: `STRIPE_KEY/production`. */
  where: string;
  /** Values this call carries or may receive: masked out of anything quoted from the answer. */
  values: string[];
  /** Statuses that are answers, not failures (404 on a revoke that already happened). */
  accept?: number[];
}

export interface SignedAnswer {
  status: number;
  body: unknown;
  /** The response text, masked: for quoting the endpoint's own words in an error. */
  said: string;
}

const BASE_DELAY_MS = 200;
const MAX_DELAY_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 60_000) : undefined;
}

const backoff = (attempt: number) =>
  randomInt(0, Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt) + 1);

/** The endpoint's own words (`reason`, `message`, `error`, `errors[0].message`), short, one line, masked. */
function endpointMessage(body: unknown, mask: (text: string) => string): string {
  const b = body as
    | { reason?: unknown; message?: unknown; error?: unknown; errors?: { message?: unknown }[] }
    | undefined;
  const text = [b?.reason, b?.message, b?.error, b?.errors?.[0]?.message].find(
    (t) => typeof t === 'string',
  ) as string | undefined;
  return mask((text ?? '').replace(/\s+/g, ' ').slice(0, 200));
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

export async function signedPost(r: SignedPost): Promise<SignedAnswer> {
  const mask = createOutputMasker(r.values.filter(Boolean));
  const text = JSON.stringify(r.body);
  let last = '';
  for (let attempt = 0; attempt < r.attempts; attempt++) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    let response: Response;
    try {
      response = await fetch(r.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'user-agent': 'rotor',
          'x-rotor-event': `rotor.rotator.${r.operation}`,
          'x-rotor-timestamp': timestamp,
          'x-rotor-signature': signBody(r.key, timestamp, text),
          'idempotency-key': r.idempotencyKey,
        },
        body: text,
        // A signed request carrying a credential goes only where rotor.yaml says.
        redirect: 'error',
        signal: AbortSignal.timeout(r.timeoutMs),
      });
    } catch (error) {
      last =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${r.timeoutMs} ms`
          : ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name);
      if (attempt + 1 < r.attempts) await sleep(backoff(attempt));
      continue;
    }
    const body = parse(await response.text());
    if (response.ok || r.accept?.includes(response.status))
      return { status: response.status, body, said: endpointMessage(body, mask) };
    if (response.status === 429 || response.status >= 500) {
      last = `HTTP ${response.status}`;
      if (attempt + 1 < r.attempts)
        await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoff(attempt));
      continue;
    }
    throw refusal(r, response.status, endpointMessage(body, mask));
  }
  throw new RotorError(
    'ERR_ROTOR_PROVIDER_UNAVAILABLE',
    `${r.where}: ${r.provider} ${r.operation} failed after ${r.attempts} attempt(s) (${last}); nothing was promoted`,
    {
      details: { provider: r.provider, operation: r.operation },
    },
  );
}

function refusal(r: SignedPost, status: number, said: string): RotorError {
  const details = { provider: r.provider, operation: r.operation, status };
  const quoted = said ? `: ${said}` : '';
  if (status === 401) {
    return new RotorError(
      'ERR_ROTOR_PROVIDER_AUTH_FAILED',
      `${r.where}: ${r.provider} ${r.operation} refused Rotor's signature or the endpoint's own provider credential (HTTP 401${quoted})`,
      { details },
    );
  }
  if (status === 403) {
    return new RotorError(
      'ERR_ROTOR_PROVIDER_PERMISSION_MISSING',
      `${r.where}: ${r.provider} ${r.operation}: a permission is missing for this call (HTTP 403${quoted})`,
      { details },
    );
  }
  return new RotorError(
    'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
    `${r.where}: ${r.provider} ${r.operation} failed (HTTP ${status}${quoted})`,
    { details },
  );
}
