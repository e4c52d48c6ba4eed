// Refresh-token families with rotation and reuse detection (OAuth 2.0 Security BCP §4.14); reuse
// and the concurrent-refresh overlap are explained in docs/tokens.md.
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../core/clock.js';
import { parseDuration } from '../../core/duration.js';
import { RotorError, type RotorErrorCode } from '../../core/errors.js';
import type { JwtKeys } from '../jwt/jwt-keys.js';
import type {
  RotateOutcome,
  SessionScope,
  TokenStore,
} from '../../core/sessions/stores/token-store.js';

/**
 * The keyring refresh tokens are signed with: `createJwtKeys` from `rotor/jwt` for the refresh
 * secret (JWT_REFRESH_SECRET), with its own `type` (e.g. `refresh+jwt`) and audience so that an
 * access token is never accepted as a refresh token. Only sign and verify are used.
 */
export type RefreshKeyring = Pick<JwtKeys, 'sign' | 'verify'>;

export interface RefreshTokensOptions {
  keys: RefreshKeyring;
  store: TokenStore;
  /** A family ends this long after the login, however active (ms or `30d`; default 30d). */
  absoluteLifetime?: number | string;
  /** A family ends when unused this long (ms or `7d`; default 7d). */
  idleLifetime?: number | string;
  /** How long a just-rotated token is still accepted, for concurrent requests (default 2s; 0 turns it off). */
  reuseOverlap?: number | string;
  clock?: Clock;
  /** Called when reuse is detected and a family revoked: log it as a security event. */
  onReuse?(event: { familyId: string; userId: string }): void;
}

export interface IssuedRefreshToken {
  token: string;
  familyId: string;
  /** When this token stops being accepted (ms since epoch), the earlier of the idle and absolute ends. */
  expiresAt: number;
}

export interface RefreshResult extends IssuedRefreshToken {
  userId: string;
  /** The claims given at login, plus `sub`: what to put in the new access token. */
  claims: Record<string, unknown> & { sub: string };
  /** True when this was a concurrent request inside the overlap window. */
  overlap: boolean;
}

/** Claims the family machinery owns; `issue` refuses them in custom claims. */
export const RESERVED_CLAIMS = [
  'sub',
  'fam',
  'jti',
  'typ',
  'iat',
  'exp',
  'nbf',
  'iss',
  'aud',
] as const;

const REFRESH_TYP = 'refresh';

const OUTCOME_ERRORS: Record<
  Exclude<RotateOutcome['status'], 'rotated' | 'overlap'>,
  [RotorErrorCode, string]
> = {
  unknown: [
    'ERR_ROTOR_TOKENS_FAMILY_UNKNOWN',
    'refresh token family is unknown (never issued here, or purged)',
  ],
  revoked: ['ERR_ROTOR_TOKENS_FAMILY_REVOKED', 'refresh token family was revoked'],
  reuse: [
    'ERR_ROTOR_TOKENS_REUSE_DETECTED',
    'refresh token was already used: its whole family is now revoked',
  ],
  'absolute-expired': [
    'ERR_ROTOR_TOKENS_ABSOLUTE_EXPIRED',
    'refresh token family reached its absolute lifetime: log in again',
  ],
  'idle-expired': [
    'ERR_ROTOR_TOKENS_IDLE_EXPIRED',
    'refresh token family was idle too long: log in again',
  ],
  'session-revoked': [
    'ERR_ROTOR_TOKENS_SESSION_REVOKED',
    'the session was revoked (sessions revoke or an emergency rotation): log in again',
  ],
};

function ms(value: number | string | undefined, fallback: string, name: string): number {
  const out =
    value === undefined
      ? parseDuration(fallback)
      : typeof value === 'number'
        ? value
        : parseDuration(value);
  if (!Number.isSafeInteger(out) || out < 0)
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      `${name} must be a non-negative number of milliseconds or a duration like 7d`,
    );
  return out;
}

/**
 * Refresh-token families over a keyring and a TokenStore.
 *
 * @example
 * const tokens = createRefreshTokens({ keys: refreshKeys, store, absoluteLifetime: '30d', idleLifetime: '7d' });
 * const { token } = await tokens.issue(user.id, { role: user.role });     // at login
 * const next = await tokens.refresh(presented);                           // at /refresh
 * const access = await accessKeys.sign({ ...next.claims });
 */
export function createRefreshTokens(options: RefreshTokensOptions) {
  // Checked at run time for JavaScript callers: a missing part fails here, not at the first login.
  if (typeof options !== 'object' || options === null)
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'createRefreshTokens takes one options object: { keys, store, … }',
    );
  const { keys, store } = options;
  if (typeof keys?.sign !== 'function' || typeof keys.verify !== 'function')
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'keys must be a keyring from createJwtKeys (rotor/jwt)',
    );
  if (typeof store !== 'object' || store === null)
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'store must be a TokenStore (createPostgresTokenStore, createRedisTokenStore, …)',
    );
  const clock = options.clock ?? systemClock;
  const absoluteMs = ms(options.absoluteLifetime, '30d', 'absoluteLifetime');
  const idleMs = ms(options.idleLifetime, '7d', 'idleLifetime');
  const overlapMs = ms(options.reuseOverlap, '2s', 'reuseOverlap');
  if (absoluteMs === 0 || idleMs === 0)
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'absoluteLifetime and idleLifetime must be longer than zero',
    );

  function sign(
    ids: { userId: string; familyId: string; jti: string },
    custom: Record<string, unknown>,
    expiresAt: number,
  ): string {
    const { userId, familyId, jti } = ids;
    // exp in whole seconds, rounded down: the token never outlives its family.
    return keys.sign({
      ...custom,
      sub: userId,
      fam: familyId,
      jti,
      typ: REFRESH_TYP,
      exp: Math.floor(expiresAt / 1000),
    });
  }

  function customClaims(payload: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(payload))
      if (!(RESERVED_CLAIMS as readonly string[]).includes(name)) out[name] = value;
    return out;
  }

  return {
    /** Starts a family at login and returns its first refresh token. */
    async issue(userId: string, claims: Record<string, unknown> = {}): Promise<IssuedRefreshToken> {
      if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256)
        throw new RotorError(
          'ERR_ROTOR_INVALID_ARGUMENT',
          'userId must be a non-empty string of at most 256 characters',
        );
      const reserved = Object.keys(claims).filter((name) =>
        (RESERVED_CLAIMS as readonly string[]).includes(name),
      );
      if (reserved.length > 0)
        throw new RotorError(
          'ERR_ROTOR_INVALID_ARGUMENT',
          `claims ${reserved.join(', ')} are set by the refresh-token family, not by the caller`,
        );
      const now = clock.now();
      const familyId = randomUUID();
      const jti = randomUUID();
      const absoluteExpiresAt = now + absoluteMs;
      const created = await store.createFamily({ familyId, userId, jti, now, absoluteExpiresAt });
      if (!created.created) {
        throw new RotorError(
          'ERR_ROTOR_TOKENS_PASSWORD_RESET_REQUIRED',
          'this user must set a new password before logging in (passwordChanged clears it)',
          { details: { userId } },
        );
      }
      const expiresAt = Math.min(absoluteExpiresAt, now + idleMs);
      return { token: sign({ userId, familyId, jti }, claims, expiresAt), familyId, expiresAt };
    },

    /**
     * Verifies a refresh token, rotates its family atomically and returns the successor.
     * Fails with ERR_ROTOR_TOKENS_REUSE_DETECTED (family revoked), …_FAMILY_REVOKED,
     * …_ABSOLUTE_EXPIRED, …_IDLE_EXPIRED, …_SESSION_REVOKED, …_FAMILY_UNKNOWN or …_INVALID;
     * the keyring's own ERR_ROTOR_JWT_* errors (bad signature, expired, retired key) pass through.
     */
    async refresh(token: string): Promise<RefreshResult> {
      // The keyring's ERR_ROTOR_JWT_* errors (signature, expiry, retired or compromised key,
      // wrong typ) pass through unchanged.
      const payload = keys.verify(token).claims;
      const { sub, fam, jti, typ } = payload;
      if (
        typ !== REFRESH_TYP ||
        typeof sub !== 'string' ||
        typeof fam !== 'string' ||
        typeof jti !== 'string'
      ) {
        throw new RotorError(
          'ERR_ROTOR_TOKENS_INVALID',
          'not a refresh token: it lacks typ "refresh", sub, fam or jti',
        );
      }
      const now = clock.now();
      const nextJti = randomUUID();
      const outcome = await store.rotateFamily({
        familyId: fam,
        userId: sub,
        presentedJti: jti,
        nextJti,
        now,
        idleMs,
        overlapMs,
      });
      if (outcome.status !== 'rotated' && outcome.status !== 'overlap') {
        if (outcome.status === 'reuse') options.onReuse?.({ familyId: fam, userId: sub });
        const [code, message] = OUTCOME_ERRORS[outcome.status];
        throw new RotorError(code, message, {
          details: {
            familyId: fam,
            ...(outcome.status === 'revoked' && outcome.reason ? { reason: outcome.reason } : {}),
          },
        });
      }
      const custom = customClaims(payload);
      // An overlap successor carries the latest jti, so it expires with the idle window of
      // that rotation, not a fresh one.
      const expiresAt = Math.min(outcome.absoluteExpiresAt, now + idleMs);
      return {
        token: sign({ userId: sub, familyId: fam, jti: outcome.latestJti }, custom, expiresAt),
        familyId: fam,
        expiresAt,
        userId: sub,
        claims: { ...custom, sub },
        overlap: outcome.status === 'overlap',
      };
    },

    /** Revokes one family (logout on one device). */
    async revokeFamily(familyId: string, reason = 'logout'): Promise<boolean> {
      return store.revokeFamily(familyId, clock.now(), reason);
    },

    /** Revokes every refresh-token family of a user (logout everywhere). */
    async revokeUser(userId: string, reason = 'revoked'): Promise<number> {
      return store.revokeUser(userId, clock.now(), reason);
    },

    /**
     * Makes every token issued until now fail, for one user or everybody, and optionally
     * flags the user(s) for a password reset. Refresh families started before it fail at
     * once; access tokens fail wherever a RevocationCheck is used (within its poll interval).
     */
    async revokeSessions(
      scope: SessionScope,
      opts: { requirePasswordReset?: boolean; reason?: string } = {},
    ): Promise<void> {
      await store.revokeSessions(scope, { now: clock.now(), ...opts });
    },

    /** Whether the login flow must send this user to a password reset. */
    passwordResetRequired(userId: string): Promise<boolean> {
      return store.passwordResetRequired(userId);
    },

    /** The app reports a new password: clears the reset flag. */
    async passwordChanged(userId: string): Promise<void> {
      await store.passwordChanged(userId, clock.now());
    },
  };
}

export type RefreshTokens = ReturnType<typeof createRefreshTokens>;
