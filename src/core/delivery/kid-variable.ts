// NAME_KID descriptors (`<kid>.<alg>.<encoding>.<check>`) that travel beside a JWT key through the
// environment, so fromEnv() never pairs a value with another version's kid (docs/apps.md).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Suffixes of the variables delivered beside NAME and NAME_PREVIOUS. */
export const KID_SUFFIX = '_KID';
export const PREVIOUS_KID_SUFFIX = '_PREVIOUS_KID';
export const PREVIOUS_UNTIL_SUFFIX = '_PREVIOUS_UNTIL';
/** Set (to `invalidate`) only for secrets whose policy refuses previous-key tokens after a rotation. */
export const ON_ROTATE_SUFFIX = '_ON_ROTATE';

/** Every variable this file defines for NAME, for clearing stale copies a parent shell may carry. */
export function kidVariableNames(name: string): string[] {
  return [
    `${name}${KID_SUFFIX}`,
    `${name}${PREVIOUS_KID_SUFFIX}`,
    `${name}${PREVIOUS_UNTIL_SUFFIX}`,
    `${name}${ON_ROTATE_SUFFIX}`,
  ];
}

/**
 * The shape of a Rotor version id (a UUID, lowercase hex), which is also the JWT `kid`. A kid
 * that does not match it cannot name a Rotor version.
 */
export const VERSION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** How the value is written: the jwt-hmac encodings, or `jwk` for a private JWK (jwt-keypair). */
export const KEY_ENCODINGS = ['base64', 'base64url', 'jwk'] as const;
export type KeyEncoding = (typeof KEY_ENCODINGS)[number];

export const KID_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'EdDSA', 'ES256'] as const;
export type KidAlgorithm = (typeof KID_ALGORITHMS)[number];

export interface KidDescriptor {
  kid: string;
  alg: KidAlgorithm;
  encoding: KeyEncoding;
}

const CHECK_CHARS = 16;

function check(name: string, d: KidDescriptor, value: string): string {
  return createHmac('sha256', Buffer.from(value, 'utf8'))
    .update(`rotor:kid:v1\0${name}\0${d.kid}\0${d.alg}\0${d.encoding}`, 'utf8')
    .digest('base64url')
    .slice(0, CHECK_CHARS);
}

/** The NAME_KID (or NAME_PREVIOUS_KID) text for `value`, the value of NAME (or NAME_PREVIOUS). */
export function formatKidVariable(name: string, d: KidDescriptor, value: string): string {
  return `${d.kid}.${d.alg}.${d.encoding}.${check(name, d, value)}`;
}

/**
 * Reads a descriptor and proves it belongs to `value`. Returns the descriptor, `malformed`
 * when the text is not one, or `mismatch` when it describes another value.
 */
export function readKidVariable(
  name: string,
  text: string,
  value: string,
): KidDescriptor | 'malformed' | 'mismatch' {
  const parts = text.split('.');
  if (parts.length !== 4) return 'malformed';
  const [kid, alg, encoding, given] = parts as [string, string, string, string];
  if (!VERSION_ID_PATTERN.test(kid)) return 'malformed';
  if (
    !(KID_ALGORITHMS as readonly string[]).includes(alg) ||
    !(KEY_ENCODINGS as readonly string[]).includes(encoding)
  )
    return 'malformed';
  if (!/^[A-Za-z0-9_-]{16}$/.test(given)) return 'malformed';
  const d: KidDescriptor = { kid, alg: alg as KidAlgorithm, encoding: encoding as KeyEncoding };
  const expected = Buffer.from(check(name, d, value));
  return timingSafeEqual(expected, Buffer.from(given)) ? d : 'mismatch';
}

/** The descriptor a version's metadata supports, or undefined for versions without a usable kid. */
export function kidDescriptorOf(
  kind: string,
  meta: Record<string, unknown>,
): KidDescriptor | undefined {
  const { kid, alg } = meta;
  if (typeof kid !== 'string' || !VERSION_ID_PATTERN.test(kid)) return undefined;
  if (typeof alg !== 'string' || !(KID_ALGORITHMS as readonly string[]).includes(alg))
    return undefined;
  const encoding = kind === 'jwt-keypair' ? 'jwk' : (meta.encoding ?? 'base64');
  if (typeof encoding !== 'string' || !(KEY_ENCODINGS as readonly string[]).includes(encoding))
    return undefined;
  return { kid, alg: alg as KidAlgorithm, encoding: encoding as KeyEncoding };
}

/** `config.onRotate` (or `on-rotate`) of a secret's policy entry; `dual-validate` unless it says `invalidate`. */
export function onRotateOf(config: unknown): 'dual-validate' | 'invalidate' {
  if (typeof config !== 'object' || config === null) return 'dual-validate';
  const c = config as Record<string, unknown>;
  return (c.onRotate ?? c['on-rotate']) === 'invalidate' ? 'invalidate' : 'dual-validate';
}
