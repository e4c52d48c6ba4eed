// What the rotation engine takes and answers: the types callers (CLI, server, scheduler) share.
import type { Rotor } from '../context.js';
import type { Method, RotationStep } from '../store/schema.js';
import type { RetireProof } from './retire-proof.js';

export type StepPhase = 'start' | 'done' | 'failed';

export interface ProgressEvent {
  secret: string;
  environment: string;
  step: RotationStep | 'rollback' | 'emergency';
  phase: StepPhase;
  ms?: number;
  detail?: string;
}

export interface EngineHooks {
  /** Called after each journal write; tests use it to kill the process between any two steps. */
  afterJournal?(point: string): void | Promise<void>;
}

export interface EngineDeps {
  rotor: Pick<
    Rotor,
    | 'store'
    | 'masterKey'
    | 'clock'
    | 'logger'
    | 'policy'
    | 'rotator'
    | 'secret'
    | 'assertEnvironment'
    | 'env'
    | 'policyFile'
  >;
  hooks?: EngineHooks;
  onProgress?(event: ProgressEvent): void;
}

export interface RotateRequest {
  secret: string;
  /** Default: every environment of the secret, in policy order. */
  environments?: string[];
  method: Method;
  emergency?: boolean;
  reason?: string;
  /** Operator-supplied value for `operator`-sourced kinds, per environment or one for all. */
  input?: string | ((environment: string) => Promise<string>);
}

export interface EnvironmentResult {
  environment: string;
  rotationId: string;
  /**
   * `standby`: the new version is verified and published but waits for its kind's publish-ahead
   * time before it may become current (`promoteAfter`); `rotate` again (or `resume`) then.
   * `waiting`: asked to continue such a rotation too early; nothing changed.
   */
  outcome: 'succeeded' | 'failed' | 'skipped' | 'standby' | 'waiting';
  versionId?: string;
  /** For `standby` and `waiting`: when the standby version may become current (ISO). */
  promoteAfter?: string;
  previousVersionId?: string;
  retiredVersionIds: string[];
  graceUntil?: string;
  emergencyActions?: string[];
  error?: { code: string; message: string };
  ms: number;
}

export interface RotateResult {
  secret: string;
  method: Method;
  emergency: boolean;
  results: EnvironmentResult[];
  ok: boolean;
}

export interface ResumeOutcome {
  rotationId: string;
  secret: string;
  environment: string;
  /** `waiting`: a standby version whose publish-ahead time has not passed yet; left as it is. */
  action: 'completed' | 'rolled-back' | 'skipped' | 'waiting';
  detail: string;
}

export interface RetireRequest {
  secret?: string;
  environment?: string;
  /** Retire previous versions still inside their grace window. Needs a reason. */
  now?: boolean;
  reason?: string;
  /** Revoke even while the old credential is in use (live database sessions are terminated). */
  force?: boolean;
}

export interface RetiredVersion {
  secret: string;
  environment: string;
  versionId: string;
  early: boolean;
  /** The rotator found the old credential still in use and kept it (`force` overrides). */
  postponed?: true;
  /** Why it was postponed (live sessions, consumers still on the old version). */
  reason?: string;
  /** What logging in with the retired credential showed (kinds with `prove`), or that it was kept. */
  proof?: RetireProof;
}
