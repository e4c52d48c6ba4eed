// What differs between SMTP providers: how a credential is made, made real and revoked. The
// `smtp` kind does the rest the same way for all (SMTP AUTH before promotion, proof after retire).
import type {
  Material,
  RotatorContext,
  StoredMaterial,
} from '../../core/rotator/rotator-contract.js';

export interface SmtpAdapter<Config> {
  create(ctx: RotatorContext<Config>): Promise<Material>;
  /** The rotator contract's `abandon`: deletes what create made for ctx.versionId at the provider. */
  abandon(ctx: RotatorContext<Config>): Promise<string[]>;
  apply(ctx: RotatorContext<Config>, material: StoredMaterial): Promise<void>;
  revoke(ctx: RotatorContext<Config>, old: StoredMaterial): Promise<void>;
  /** Runs after revoke (SES: delete this secret's IAM keys inactive for too long). */
  afterRevoke?(ctx: RotatorContext<Config>, old: StoredMaterial): Promise<void>;
  emergencyNote(ctx: RotatorContext<Config>): string;
}
