// `rotor sessions revoke`: moves a user's or everybody's "valid after" time to now in the app's
// session store, so every token issued earlier fails, optionally flags a password reset, and
// audits it (who, whom, why; never a value).
import { recordAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { RotorError, isRotorError } from '../errors.js';
import { describeConnectError } from './stores/store-errors.js';
import { openSessionStore } from './open-session-store.js';

export interface RevokeSessionsRequest {
  userId?: string;
  all?: boolean;
  requirePasswordReset?: boolean;
  reason?: string;
}

export interface RevokeSessionsResult {
  scope: 'user' | 'all';
  userId?: string;
  requirePasswordReset: boolean;
  store: 'postgres' | 'redis';
  /** Tokens issued at or before this time (ISO 8601) are rejected. */
  validAfter: string;
}

/** One user or everyone (not both), a sane user id, and a reason for the audit log. */
function assertRevokeRequest(request: RevokeSessionsRequest): void {
  if (Boolean(request.all) === (request.userId !== undefined)) {
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'say whose sessions to revoke: --user ID or --all (not both)',
    );
  }
  if (
    request.userId !== undefined &&
    (request.userId.length === 0 || request.userId.length > 256)
  ) {
    throw new RotorError('ERR_ROTOR_INVALID_ARGUMENT', 'the user id must be 1 to 256 characters');
  }
  if (!request.reason?.trim())
    throw new RotorError(
      'ERR_ROTOR_SESSIONS_REASON_REQUIRED',
      'revoking sessions needs --reason: it is recorded in the audit log',
    );
}

export async function revokeSessions(
  rotor: Pick<Rotor, 'policy' | 'env' | 'clock' | 'store'>,
  actor: Actor,
  request: RevokeSessionsRequest,
): Promise<RevokeSessionsResult> {
  assertRevokeRequest(request);
  const spec = rotor.policy().sessions;
  // The audit log must be writable before anything changes in the session store.
  const auditStore = await rotor.store();
  const sessions = await openSessionStore(spec, rotor.env);
  const now = rotor.clock.now();
  const scope = request.all ? ('all' as const) : ('user' as const);
  const details = {
    scope,
    user: request.userId ?? null,
    requirePasswordReset: Boolean(request.requirePasswordReset),
    store: spec!.store,
  };
  try {
    await sessions.revokeSessions(request.all ? { all: true } : { userId: request.userId! }, {
      now,
      reason: request.reason,
      requirePasswordReset: Boolean(request.requirePasswordReset),
    });
  } catch (error) {
    const failure = isRotorError(error)
      ? error
      : new RotorError(
          'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
          `the ${spec!.store} session store did not take the revocation: ${describeConnectError(error)}`,
          { cause: error },
        );
    await recordAudit(auditStore, rotor.clock, actor, {
      action: 'sessions.revoke',
      outcome: 'failure',
      notes: request.reason,
      details: { ...details, error: failure.code },
    });
    throw failure;
  } finally {
    await sessions.close();
  }
  await recordAudit(auditStore, rotor.clock, actor, {
    action: 'sessions.revoke',
    outcome: 'success',
    notes: request.reason,
    details,
  });
  return {
    scope,
    ...(request.userId !== undefined ? { userId: request.userId } : {}),
    requirePasswordReset: Boolean(request.requirePasswordReset),
    store: spec!.store,
    validAfter: new Date(now).toISOString(),
  };
}
