// Strict decoding of generated-style secrets (base64, base64url, hex). Node's Buffer.from
// silently skips characters outside the alphabet, so an imported value is only accepted when
// it is exactly what the encoding would have produced.
import type { Encoding } from './generate.js';

const ALPHABETS: Record<Encoding, RegExp> = {
  base64: /^[A-Za-z0-9+/]+={0,2}$/,
  base64url: /^[A-Za-z0-9_-]+={0,2}$/,
  hex: /^(?:[0-9a-fA-F]{2})+$/,
};

/** The bytes `text` encodes in `encoding`, or undefined when it is not a canonical encoding. */
export function decodeStrict(text: string, encoding: Encoding): Buffer | undefined {
  if (!ALPHABETS[encoding].test(text)) return undefined;
  const bytes = Buffer.from(text, encoding);
  if (encoding === 'hex') return bytes;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length !== text.length && text.length % 4 !== 0) return undefined;
  // Re-encoding catches stray padding and non-zero trailing bits.
  if (bytes.toString(encoding).replace(/=+$/, '') !== unpadded) return undefined;
  return bytes;
}
