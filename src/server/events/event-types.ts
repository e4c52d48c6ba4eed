// What the `/v1/events` stream says. A `rotation` event names versions, never a value: the app
// fetches the value through `GET /v1/secrets/:name/value` with its own token, which is audited.

import type { KeyInfo, LiveState } from '../../core/delivery/live-state.js';

export type { KeyInfo, LiveState };

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
