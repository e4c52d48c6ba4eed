// What the `/v1/events` stream says. A `rotation` event names versions, never a value: the app
// fetches the value through `GET /v1/secrets/:name/value` with its own token, which is audited.

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

export type ChangeKind = 'rotation' | 'retire' | 'removed';

/** One `rotation` event: the state after a rotation, promotion, retirement or emergency. */
export interface RotationEvent extends LiveState {
  /** `rotation`: the current version changed; `retire`: only the previous one went; `removed`: nothing is live any more. */
  change: ChangeKind;
  /** The current version before this change, if any. */
  replacedVersionId: string | null;
  /** When the server saw the change (ISO). */
  at: string;
}

export interface SequencedEvent {
  seq: number;
  event: RotationEvent;
}
