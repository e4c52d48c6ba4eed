// The public contract between a JWT keyring and wherever its keys come from: the environment
// `rotor run` prepared (fromEnv), a local Rotor store (fromStore), and later the Rotor server
// (fromServer). A source hands out key *sets*; the keyring indexes them by kid and never tries
// keys one after another.
import type { KeyObject } from 'node:crypto';

/** Where a version stands for verifiers. `standby` keys are published but never sign. */
export type KeyStage = 'standby' | 'current' | 'previous';

export interface KeyVersion {
  /** The version id, used as the JWT `kid`. */
  kid: string;
  stage: KeyStage;
  /** The one algorithm this key is for: HS256/HS384/HS512, EdDSA or ES256. */
  alg: string;
  /** Secret key (HMAC) or private key (signing, current only); undefined on verify-only sources. */
  signingKey?: KeyObject;
  /** Secret key (HMAC) or public key (asymmetric). */
  verifyKey: KeyObject;
  /** For `previous`: when its grace window ends (ms since epoch); tokens are refused after it. */
  acceptUntil?: number;
}

export interface KeySet {
  secret: string;
  versions: KeyVersion[];
  /** Kids of versions that were retired (grace over) or compromised (emergency), for precise errors. */
  retired: ReadonlyMap<string, 'retired' | 'compromised'>;
  /**
   * For refresh-token secrets: whether tokens signed by the previous key are still accepted
   * during the grace window (`dual-validate`, the default) or not (`invalidate`).
   */
  onRotate: 'dual-validate' | 'invalidate';
  /** Monotonic marker of this set's content; changes whenever a version changes. */
  revision: string;
}

export interface KeySource {
  /** Loads the current key set of `secret`. */
  load(secret: string): Promise<KeySet>;
  /**
   * Calls `onChange` when the key set of `secret` may have changed (rotation, retirement,
   * emergency). Returns an unsubscribe function. Sources that cannot change (fromEnv) never call it.
   */
  watch(secret: string, onChange: () => void): () => void;
  close(): Promise<void>;
}
