// Two-part provider credentials (an AWS access key id and its secret, a Twilio API key SID and
// its secret) are stored as one JSON object and may also be imported as ID:SECRET. One reader for
// both forms, so the kinds accept and refuse exactly the same shapes.

export interface KeyPairFields {
  /** The JSON field of the id part, e.g. accessKeyId. */
  id: string;
  /** The JSON field of the secret part, e.g. secretAccessKey. */
  secret: string;
  /** What a well-formed id looks like. */
  idPattern: RegExp;
}

/**
 * The id and secret of `value` (`{"<id>":…,"<secret>":…}` or ID:SECRET, split at the first colon),
 * or undefined unless the id matches and the secret has at least 16 characters. The caller throws
 * its own error naming the value, and never quotes it.
 */
export function readKeyPair(
  value: string,
  fields: KeyPairFields,
): { id: string; secret: string } | undefined {
  const text = value.trim();
  let id: unknown;
  let secret: unknown;
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      id = parsed[fields.id];
      secret = parsed[fields.secret];
    } catch {
      // Malformed JSON holds neither part.
    }
  } else {
    const at = text.indexOf(':');
    if (at > 0) [id, secret] = [text.slice(0, at), text.slice(at + 1)];
  }
  if (typeof id !== 'string' || !fields.idPattern.test(id)) return undefined;
  if (typeof secret !== 'string' || secret.length < 16) return undefined;
  return { id, secret };
}
