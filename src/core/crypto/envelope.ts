// AES-256-GCM envelope encryption. Each version's value is sealed under its own random data
// key (DEK); the DEK is sealed under the master key. The secret name, environment and version
// id are bound as associated data, so a ciphertext copied into another row fails to open.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { RotorError } from '../errors.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** Where a value belongs; bound into both layers of the envelope. */
export interface ValueBinding {
  secret: string;
  environment: string;
  versionId: string;
}

export interface SealedValue {
  /** iv | tag | ciphertext of the value under the DEK. */
  ciphertext: Buffer;
  /** iv | tag | ciphertext of the DEK under the master key. */
  wrappedKey: Buffer;
  /** Which master key wrapped the DEK. */
  masterKeyId: string;
}

function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed data too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

function valueAad(b: ValueBinding): Buffer {
  return Buffer.from(`rotor:value:v1\0${b.secret}\0${b.environment}\0${b.versionId}`, 'utf8');
}

function keyAad(b: ValueBinding): Buffer {
  return Buffer.from(`rotor:dek:v1\0${b.secret}\0${b.environment}\0${b.versionId}`, 'utf8');
}

/** A loaded master key. The raw bytes never leave this object except through `export()`. */
export interface MasterKey {
  readonly id: string;
  wrap(dek: Buffer, binding: ValueBinding): Buffer;
  unwrap(wrapped: Buffer, binding: ValueBinding): Buffer;
  /** Seals a fixed check value so a wrong master key is detected before any data is touched. */
  checkValue(): Buffer;
  matchesCheckValue(check: Buffer): boolean;
  /** Base64 of the key, for writing the key file only. */
  export(): string;
}

export function createMasterKey(raw: Buffer): MasterKey {
  if (raw.length !== KEY_BYTES) {
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID',
      `master key must be ${KEY_BYTES} bytes (base64), got ${raw.length}`,
    );
  }
  const key = Buffer.from(raw);
  // A key id that reveals nothing about the key: an HMAC of a constant under it.
  const id = createHmac('sha256', key).update('rotor:master-key-id').digest('hex').slice(0, 16);
  const checkAad = Buffer.from(`rotor:check:v1\0${id}`);
  return {
    id,
    wrap: (dek, binding) => seal(key, dek, keyAad(binding)),
    unwrap: (wrapped, binding) => {
      try {
        return open(key, wrapped, keyAad(binding));
      } catch (cause) {
        throw new RotorError(
          'ERR_ROTOR_CRYPTO_DECRYPT_FAILED',
          `cannot unwrap the data key of ${binding.secret}/${binding.environment} version ${binding.versionId}: wrong master key or tampered row`,
          { cause },
        );
      }
    },
    checkValue: () => seal(key, Buffer.from('rotor-master-key-check'), checkAad),
    matchesCheckValue: (check) => {
      try {
        return open(key, check, checkAad).toString() === 'rotor-master-key-check';
      } catch {
        return false;
      }
    },
    export: () => key.toString('base64'),
  };
}

export function generateMasterKey(): MasterKey {
  return createMasterKey(randomBytes(KEY_BYTES));
}

/** Seals a value under a fresh DEK wrapped by the master key. */
export function sealValue(master: MasterKey, value: Buffer, binding: ValueBinding): SealedValue {
  const dek = randomBytes(KEY_BYTES);
  try {
    return {
      ciphertext: seal(dek, value, valueAad(binding)),
      wrappedKey: master.wrap(dek, binding),
      masterKeyId: master.id,
    };
  } finally {
    dek.fill(0);
  }
}

/** Opens a sealed value; any mismatch of key, binding or bytes is ERR_ROTOR_CRYPTO_DECRYPT_FAILED. */
export function openValue(
  master: MasterKey,
  sealed: Omit<SealedValue, 'masterKeyId'>,
  binding: ValueBinding,
): Buffer {
  const dek = master.unwrap(sealed.wrappedKey, binding);
  try {
    return open(dek, sealed.ciphertext, valueAad(binding));
  } catch (cause) {
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_DECRYPT_FAILED',
      `cannot decrypt ${binding.secret}/${binding.environment} version ${binding.versionId}: the row was moved or tampered with`,
      { cause },
    );
  } finally {
    dek.fill(0);
  }
}

/** Re-wraps a DEK from one master key to another without exposing the value. */
export function rewrapKey(
  from: MasterKey,
  to: MasterKey,
  wrapped: Buffer,
  binding: ValueBinding,
): Buffer {
  const dek = from.unwrap(wrapped, binding);
  try {
    return to.wrap(dek, binding);
  } finally {
    dek.fill(0);
  }
}
