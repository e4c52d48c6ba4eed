// Ed25519 signatures over audit checkpoints: (store id, seq, head hash, time) in a fixed,
// domain-separated text, so a signature can never be replayed as anything else. Keys are PEM
// (PKCS#8 private, SPKI public) as `openssl genpkey -algorithm ed25519` writes them; no error
// message ever carries key material, only the file or variable that names it.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RotorError } from '../errors.js';
import type { CheckpointKeyRef } from '../policy/checkpoint-schema.js';

/** A published checkpoint, as stored in a file or sent to an HTTP endpoint. */
export interface SignedCheckpoint {
  v: 1;
  /** The store's audit id (meta `audit_store_id`), so checkpoints of two stores never mix. */
  store: string;
  seq: number;
  /** The stored hash of row `seq`. */
  head: string;
  /** When it was signed (ISO 8601, UTC). */
  at: string;
  /** First 16 hex digits of SHA-256 over the public key (SPKI DER), to tell keys apart. */
  keyId: string;
  /** Base64 Ed25519 signature over `checkpointMessage`. */
  signature: string;
}

export type CheckpointClaims = Pick<SignedCheckpoint, 'store' | 'seq' | 'head' | 'at'>;

/** The exact bytes signed. */
export function checkpointMessage(c: CheckpointClaims): Buffer {
  return Buffer.from(
    `rotor audit checkpoint v1\nstore ${c.store}\nseq ${c.seq}\nhead ${c.head}\nat ${c.at}\n`,
    'utf8',
  );
}

export function keyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

export function signCheckpoint(claims: CheckpointClaims, privateKey: KeyObject): SignedCheckpoint {
  const signature = sign(null, checkpointMessage(claims), privateKey).toString('base64');
  return { v: 1, ...claims, keyId: keyId(createPublicKey(privateKey)), signature };
}

/** Whether `c`'s signature is valid under `publicKey` (false for any malformed signature). */
export function checkpointSignatureValid(c: SignedCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

function keyInvalid(where: string, why: string, cause?: unknown): RotorError {
  return new RotorError('ERR_ROTOR_AUDIT_CHECKPOINT_KEY_INVALID', `${where} ${why}`, {
    details: { key: where },
    ...(cause === undefined ? {} : { cause }),
  });
}

function asEd25519(key: KeyObject, where: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519')
    throw keyInvalid(
      where,
      `holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not Ed25519`,
    );
  return key;
}

/**
 * Loads the signing key named by rotor.yaml (`{ file }` resolved against `baseDir`, or `{ env }`).
 * A missing file or unset variable is ERR_ROTOR_AUDIT_CHECKPOINT_KEY_MISSING naming it.
 */
export function loadCheckpointPrivateKey(
  ref: CheckpointKeyRef,
  options: { env: NodeJS.ProcessEnv; resolvePath: (p: string) => string },
): KeyObject {
  let pem: string;
  let where: string;
  if ('env' in ref) {
    where = `the environment variable ${ref.env}`;
    const text = options.env[ref.env];
    if (!text)
      throw new RotorError(
        'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_MISSING',
        `the audit checkpoint signing key is missing: ${where} is not set (rotor.yaml audit.checkpoints.key)`,
        { details: { env: ref.env } },
      );
    pem = text;
  } else {
    const file = options.resolvePath(ref.file);
    where = `the key file ${file}`;
    pem = readKeyFile(file, 'the audit checkpoint signing key', 'rotor.yaml audit.checkpoints.key');
  }
  if (!pem.includes('PRIVATE KEY'))
    throw keyInvalid(where, 'is not a PEM private key (expected "-----BEGIN PRIVATE KEY-----")');
  try {
    return asEd25519(createPrivateKey(pem), where);
  } catch (error) {
    if (error instanceof RotorError) throw error;
    throw keyInvalid(where, 'cannot be read as a PEM private key', error);
  }
}

/** Loads a verifier's public key; a private key is refused so that it is never handed around. */
export function loadCheckpointPublicKey(file: string): KeyObject {
  const where = `the public key file ${file}`;
  const pem = readKeyFile(file, 'the checkpoint public key', '--public-key');
  if (pem.includes('PRIVATE KEY'))
    throw keyInvalid(
      where,
      'holds a private key: pass the public key (`rotor audit checkpoint keygen` writes it beside the private key as .pub)',
    );
  try {
    return asEd25519(createPublicKey(pem), where);
  } catch (error) {
    if (error instanceof RotorError) throw error;
    throw keyInvalid(where, 'cannot be read as a PEM public key', error);
  }
}

function readKeyFile(file: string, what: string, named: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RotorError(
      code === 'ENOENT'
        ? 'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_MISSING'
        : 'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_INVALID',
      `${what} is missing: cannot read ${file} (${code ?? 'error'}; named by ${named})`,
      { details: { file }, cause: error },
    );
  }
}

/** A fresh key pair as PEM text: what `rotor audit checkpoint keygen` writes. */
export function generateCheckpointKeyPair(): {
  privatePem: string;
  publicPem: string;
  keyId: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
  };
}
