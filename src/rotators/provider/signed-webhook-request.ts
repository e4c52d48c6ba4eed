// A signed JSON POST to a team's own rotation endpoint (the `http` kind): provider-http.ts's retry
// loop with a fresh signature per attempt and one Idempotency-Key (docs/providers.md).
import { RotorError } from '../../core/errors.js';
import { createOutputMasker } from '../../core/rotation/stages/mask-output.js';
import { signBody } from '../../core/rotation/stages/run-step.js';
import { providerRequest } from './provider-http.js';

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

/** The endpoint's own words (`reason`, `message`, `error`, `errors[0].message`), short, one line, masked. */
function endpointMessage(body: unknown, mask: (text: string) => string): string {
  const b = body as
    | { reason?: unknown; message?: unknown; error?: unknown; errors?: { message?: unknown }[] }
    | undefined;
  const text = [b?.reason, b?.message, b?.error, b?.errors?.[0]?.message].find(
    (t): t is string => typeof t === 'string',
  );
  return mask((text ?? '').replace(/\s+/g, ' ').slice(0, 200));
}

export async function signedPost(r: SignedPost): Promise<SignedAnswer> {
  const mask = createOutputMasker(r.values.filter(Boolean));
  const answer = await providerRequest({
    provider: r.provider,
    operation: r.operation,
    url: r.url,
    method: 'POST',
    json: r.body,
    headers: {
      'user-agent': 'rotor',
      'x-rotor-event': `rotor.rotator.${r.operation}`,
      'idempotency-key': r.idempotencyKey,
    },
    // Signed afresh per attempt: a retry after a long Retry-After still has a fresh timestamp.
    sign(text) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      return {
        'x-rotor-timestamp': timestamp,
        'x-rotor-signature': signBody(r.key, timestamp, text),
      };
    },
    refuse: (status, body) => refusal(r, status, endpointMessage(body, mask)),
    timeoutMs: r.timeoutMs,
    attempts: r.attempts,
    where: r.where,
    ...(r.accept ? { accept: r.accept } : {}),
  });
  return { ...answer, said: endpointMessage(answer.body, mask) };
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
