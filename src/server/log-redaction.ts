// What the request log may say about a URL: token shapes and credential-like query values redacted
// (docs/security.md, "What is redacted").
import type { FastifyRequest } from 'fastify';

export const REDACTED = '[redacted]';

/** API tokens and feed tokens, wherever they appear (also partly, e.g. a cut-off copy). */
const TOKEN_SHAPES = /rtr_[0-9a-fA-F]{4,}(?:_[A-Za-z0-9_-]*)?|rfeed_[A-Za-z0-9_-]+/g;

/** Query parameter names that carry credentials (token, access_token, api_key, password, code…). */
const CREDENTIAL_PARAM =
  /token|secret|pass|pwd|key|auth|sig|session|csrf|code|jwt|credential|cookie|otp/i;

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * The URL as it may be logged.
 *
 * @example
 * redactUrl('/dashboard/calendar.ics?token=rfeed_abc'); // '/dashboard/calendar.ics?token=[redacted]'
 */
export function redactUrl(url: string): string {
  let out = url;
  if (out.includes('rtr_') || out.includes('rfeed_')) out = out.replace(TOKEN_SHAPES, REDACTED);
  const q = out.indexOf('?');
  if (q < 0) return out;
  // The common case (`?env=production`) costs one scan: no credential-like name and no escapes
  // that could spell one (`%74oken`), nothing to do.
  const query = out.slice(q + 1);
  if (!query.includes('%') && !CREDENTIAL_PARAM.test(query)) return out;
  const params = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    return eq >= 0 && CREDENTIAL_PARAM.test(decodedName(name)) ? `${name}=${REDACTED}` : part;
  });
  return `${out.slice(0, q)}?${params.join('&')}`;
}

/** Fastify's request serializer (same fields) with the URL redacted. */
export function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
