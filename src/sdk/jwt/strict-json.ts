// JSON for JOSE headers and claim sets, strictly: valid UTF-8, one object, no member name twice
// (RFC 7515 §4); how duplicates are found without a second parser is in docs/apps.md.
import { isUtf8 } from 'node:buffer';

export type StrictJsonResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; why: 'utf8' | 'syntax' | 'not-object' | 'duplicate' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** Colons right after a quote, or -1 if a colon follows whitespace (then no bound holds). */
function countQuoteColons(text: string): number {
  let n = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) {
    const before = text.charCodeAt(i - 1);
    if (before === QUOTE) n++;
    else if (before === 0x20 || before === 0x09 || before === 0x0a || before === 0x0d) return -1;
  }
  return n;
}

/** Members in valid JSON text: the colons outside strings. */
function countMembers(text: string): number {
  let members = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === COLON) {
      members++;
    } else if (c === QUOTE) {
      // Jump to the closing quote: the next quote preceded by an even run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        let backslashes = 0;
        for (let j = i - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
    }
  }
  return members;
}

/** Own keys of every object in a parsed value, at any depth. */
function countKeys(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let keys = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' && item !== null) keys += countKeys(item);
    }
    return keys;
  }
  for (const name in value) {
    keys++;
    const item = (value as Record<string, unknown>)[name];
    if (typeof item === 'object' && item !== null) keys += countKeys(item);
  }
  return keys;
}

/** Parses `bytes` as a JSON object with no repeated member names. */
export function parseStrictJsonObject(bytes: Buffer): StrictJsonResult {
  if (!isUtf8(bytes)) return { ok: false, why: 'utf8' };
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: 'syntax' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, why: 'not-object' };
  const keys = countKeys(value);
  if (countQuoteColons(text) !== keys) {
    if (countMembers(text) !== keys) return { ok: false, why: 'duplicate' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
