// The client's requests to the Rotor server: one request, the error for a refused one, and the
// read of one value.
import { RotorError } from '../../core/errors.js';
import type { ClientConfig } from './client-config.js';
import type { HeldValue } from './client-types.js';

type Server = Pick<ClientConfig, 'base' | 'headers' | 'fetch'>;

interface ValueAnswer {
  versionId: string;
  value: string;
  retireAt: string | null;
}

/** One request; an unreachable server is ERR_ROTOR_CLIENT_REQUEST_FAILED. */
export async function request(
  server: Server,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Response> {
  const { base, headers } = server;
  try {
    return await server.fetch(`${base}${path}`, {
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

/** The error for an answer that is not ok, with the server's code and message if it sent them. */
export async function failed(res: Response, what: string): Promise<RotorError> {
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

/** Reads one value; null for a previous version when there is none in grace. */
export async function fetchValue(
  server: Server,
  secret: string,
  environment: string,
  stage: 'current' | 'previous',
): Promise<HeldValue | null> {
  const path = `/v1/secrets/${encodeURIComponent(secret)}/value?env=${encodeURIComponent(environment)}&stage=${stage}`;
  const res = await request(server, 'GET', path);
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
