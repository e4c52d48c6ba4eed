// Masks every run of MIN_RUN+ characters of a secret's values (raw or encoded) in text a hook
// printed, because exact matching misses a prefix or an encoding (docs/security.md).

/** The shortest run of a value's characters that is masked. */
export const MIN_RUN = 8;
export const MASK = '[redacted]';

function encodingsOf(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const out = new Set<string>([value]);
  for (let offset = 0; offset < 3 && offset < bytes.length; offset += 1) {
    const part = bytes.subarray(offset);
    const b64 = part.toString('base64');
    out.add(b64.replace(/=+$/, ''));
    out.add(part.toString('base64url'));
  }
  const hex = bytes.toString('hex');
  out.add(hex);
  out.add(hex.toUpperCase());
  out.add(encodeURIComponent(value));
  // encodeURI and form encoding (spaces as +) differ from encodeURIComponent only in a few
  // characters; covering both keeps `?password=…` style output masked too.
  out.add(encodeURI(value));
  out.add(encodeURIComponent(value).replace(/%20/g, '+'));
  // Lower-case percent escapes (%2f) as some tools print them.
  out.add(encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  return [...out];
}

/** Fields of a JSON value that name a credential rather than prove it (an access key id, a login). */
const IDENTIFIER_FIELDS = new Set(['accessKeyId', 'username']);

/**
 * A JSON object value holding an identifier beside its secret (aws-iam-access-key, smtp): its
 * other fields, which are what must be masked; undefined for any other value (masked whole).
 * Errors must be able to name the key id or login they are about ("two keys: AKIA… and AKIA…").
 */
function jsonSecretFields(value: string): string[] | undefined {
  if (!value.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    const entries = Object.entries(parsed as Record<string, unknown>);
    if (!entries.some(([k]) => IDENTIFIER_FIELDS.has(k))) return undefined;
    return entries
      .filter(([k]) => !IDENTIFIER_FIELDS.has(k))
      .map(([, v]) => (typeof v === 'string' ? v : JSON.stringify(v)));
  } catch {
    return undefined;
  }
}

/**
 * What to mask of each value. A URL with a password (`postgres://app:pw@db:5432/app`) is masked
 * by its password (as written and decoded) and its query string: the user, host, port and
 * database are not secret, and masking them would hide what a failure is about ("could not
 * connect to db:5432"). Any other value is masked whole.
 */
function secretPartsOf(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    const fields = jsonSecretFields(value);
    if (fields) {
      out.push(...fields);
      continue;
    }
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      // not a URL
    }
    if (url?.password) {
      out.push(url.password, safeDecode(url.password));
      if (url.search.length > 1) out.push(url.search.slice(1));
    } else out.push(value);
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A masker for a fixed set of values; build it once per step, use it on every output. */
export function createOutputMasker(values: readonly string[]): (text: string) => string {
  const windows = new Set<string>();
  const short: string[] = [];
  for (const value of secretPartsOf(values)) {
    if (value.length === 0) continue;
    for (const encoded of encodingsOf(value)) {
      if (encoded.length < MIN_RUN) {
        // A value shorter than a run is masked where it appears whole (as before), if it is not trivially short.
        if (encoded.length >= 4) short.push(encoded);
        continue;
      }
      for (let i = 0; i + MIN_RUN <= encoded.length; i += 1)
        windows.add(encoded.slice(i, i + MIN_RUN));
    }
  }
  short.sort((a, b) => b.length - a.length);
  return (text) => {
    if (text.length === 0) return text;
    const masked = new Uint8Array(text.length);
    for (let i = 0; i + MIN_RUN <= text.length; i += 1) {
      if (windows.has(text.slice(i, i + MIN_RUN))) masked.fill(1, i, i + MIN_RUN);
    }
    for (const needle of short) {
      for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1))
        masked.fill(1, at, at + needle.length);
    }
    let out = '';
    for (let i = 0; i < text.length;) {
      if (masked[i]) {
        while (i < text.length && masked[i]) i += 1;
        out += MASK;
      } else {
        const start = i;
        while (i < text.length && !masked[i]) i += 1;
        out += text.slice(start, i);
      }
    }
    return out;
  };
}
