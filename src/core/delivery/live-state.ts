// The live versions of one secret in one environment as the server announces them on
// `/v1/events` and rotor/client holds them: version ids and key facts, never a value. Types
// only, shared by the server and the SDK (importing it loads nothing).

/** Non-secret facts a JWT keyring needs to use a version as a key (kid = version id). */
export interface KeyInfo {
  alg: string;
  encoding: string;
  onRotate: 'dual-validate' | 'invalidate';
}

/** The live versions of one secret in one environment. */
export interface LiveState {
  secret: string;
  environment: string;
  /** The current version id (null once nothing is current). */
  versionId: string | null;
  /** The previous version still inside its grace window, if any. */
  previousVersionId: string | null;
  /** When the previous version's grace ends (ISO), if there is one. */
  retireAt: string | null;
  /** For jwt kinds: how to use the values as keys. */
  key?: KeyInfo;
}
