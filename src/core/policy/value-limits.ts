// What any stored value may be: no NUL, not blank (unless the kind allows), within `maxBytes`, so
// `rotor run` never fails later with a bare E2BIG (docs/rotor-yaml.md).
import { RotorError } from '../errors.js';

/** The default limit of one value, in bytes (rotor.yaml `maxBytes:` per secret changes it). */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024;

/**
 * The highest `maxBytes:` rotor.yaml accepts: one `NAME=value` string in a process environment
 * is at most 131072 bytes on Linux, and the name, `_PREVIOUS` and `=` take some of that.
 */
export const MAX_VALUE_BYTES_LIMIT = 128 * 1024 - 256;

export interface ValueRules {
  name: string;
  /** rotor.yaml `maxBytes:`; DEFAULT_MAX_VALUE_BYTES when absent. */
  maxBytes?: number;
}

function formatBytes(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

/**
 * Throws ERR_ROTOR_VALUE_INVALID (or ERR_ROTOR_VALUE_MISSING for a blank value) naming the
 * secret and the rule, never the value.
 *
 * @example
 * assertValueAcceptable({ name: 'TLS_KEY', maxBytes: 16384 }, pem, { allowsBlank: false });
 */
export function assertValueAcceptable(
  spec: ValueRules,
  value: string,
  kind: { allowsBlank?: boolean } = {},
): void {
  if (value.includes('\0')) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${spec.name}: the value contains a NUL byte, which environment variables cannot carry`,
      {
        details: { secret: spec.name },
      },
    );
  }
  if (!kind.allowsBlank && value.trim().length === 0) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_MISSING',
      `${spec.name}: the value is ${value.length === 0 ? 'empty' : 'only whitespace'}: nothing was stored`,
      { details: { secret: spec.name } },
    );
  }
  const limit = spec.maxBytes ?? DEFAULT_MAX_VALUE_BYTES;
  const size = Buffer.byteLength(value, 'utf8');
  if (size > limit) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${spec.name}: the value is ${size} bytes, over its limit of ${formatBytes(limit)}: store a reference (a path, a URL) instead, or raise \`maxBytes:\` for ${spec.name} in rotor.yaml (at most ${MAX_VALUE_BYTES_LIMIT})`,
      { details: { secret: spec.name, bytes: size, limit } },
    );
  }
}
