// The stored value of an `aws-iam-access-key` secret: the key id and the secret access key
// together, as one JSON object, so the pair is always rotated, stored and delivered as one.
// `ACCESS_KEY_ID:SECRET_ACCESS_KEY` is also read (rotor import, admin credentials in a variable).
import { RotorError } from '../../core/errors.js';
import { readKeyPair } from '../provider/key-pair.js';

export interface AccessKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

const KEY_ID = /^(AKIA|ASIA)[A-Z2-7]{12,124}$/;

export function formatAccessKey(pair: AccessKeyPair): string {
  return JSON.stringify({
    accessKeyId: pair.accessKeyId,
    secretAccessKey: pair.secretAccessKey,
  });
}

/** Parses a stored or imported pair; `what` names it in the error, which never quotes the value. */
export function parseAccessKey(value: string, what: string): AccessKeyPair {
  const pair = readKeyPair(value, {
    id: 'accessKeyId',
    secret: 'secretAccessKey',
    idPattern: KEY_ID,
  });
  if (!pair) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${what}: expected {"accessKeyId":"AKIA…","secretAccessKey":"…"} (or ACCESS_KEY_ID:SECRET_ACCESS_KEY) with an AKIA/ASIA key id`,
    );
  }
  return { accessKeyId: pair.id, secretAccessKey: pair.secret };
}

/** The key id of a stored value without failing on a malformed one (for classification). */
export function keyIdOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return parseAccessKey(value, 'value').accessKeyId;
  } catch {
    return undefined;
  }
}
