// The app's JWT keyring for one Rotor secret: signs with the current version, verifies by kid,
// and reloads on rotation; the order of verify's checks is in docs/apps.md.
import { parseDuration } from '../../core/duration.js';
import { VERSION_ID_PATTERN } from '../../core/delivery/kid-variable.js';
import { RotorError, type RotorErrorCode } from '../../core/errors.js';
import {
  algSpec,
  canonicalSegment,
  COMPACT_JWS,
  createSignature,
  diagnoseShape,
  verifySignature,
} from './compact-jws.js';
import type { JwtClaims, JwtHeader, VerifiedJwt } from './jwt-types.js';
import type { KeySource } from './key-source.js';
import { compileKeyring, type KidEntry, type Keyring } from './keyring.js';
import type { RevocationCheck } from './revocation-check.js';
import { parseStrictJsonObject, type StrictJsonResult } from './strict-json.js';

/** Kids longer than this are refused as oversize before any lookup (a version id has 36). */
export const MAX_KID_LENGTH = 64;
export const DEFAULT_MAX_TOKEN_BYTES = 8192;

export interface JwtKeysOptions {
  /** The Rotor secret, e.g. `JWT_ACCESS_SECRET`. */
  secret: string;
  /** Where the keys come from: `fromEnv()`, `fromStore()`, or any KeySource. */
  source: KeySource;
  /** Written into `iss` by sign; required to match on verify. */
  issuer: string;
  /** Written into `aud` by sign; verify requires the token's `aud` to hold at least one of them. */
  audience: string | readonly string[];
  /** The header `typ` to write and require, e.g. `at+jwt` for access and `refresh+jwt` for refresh tokens. */
  type?: string;
  /** Lifetime of signed tokens: seconds, or a duration such as `15m`. */
  maxAge: number | string;
  /** Leeway for exp, nbf and iat: seconds or a duration (default 0). */
  clockTolerance?: number | string;
  /** Allowed `alg` values (default: the algorithms of the loaded keys). `none` is never allowed. */
  algorithms?: readonly string[];
  /** Tokens longer than this are refused before any parsing (default 8192). */
  maxTokenBytes?: number;
  /** Refuse tokens without `exp` (default true). */
  requireExp?: boolean;
  /**
   * Migration from tokens issued before Rotor, which carry no kid: until `until`, a kid-less
   * token is checked against the version `kid` (the one `rotor import` created from the old
   * secret), or against the current version if no kid is given. Still one key, never a search;
   * and that version must itself still be accepted.
   */
  acceptWithoutKid?: { until: Date | number; kid?: string };
  /** Checked after everything else passed; synchronous, from memory. */
  revocation?: RevocationCheck;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: { now(): number };
  /** Called when a background reload fails (the keyring keeps its last good key set). */
  onError?: (error: unknown) => void;
}

export interface SignOptions {
  /** Overrides the keyring's `type` for this token. */
  type?: string;
  /** Overrides the keyring's `maxAge` for this token (ignored when the claims carry `exp`). */
  maxAge?: number | string;
}

export interface VerifyOptions {
  /** Require this `typ` instead of the keyring's. */
  type?: string;
  /** Accept these audiences instead of the keyring's. */
  audience?: string | readonly string[];
}

export interface JwtKeys {
  /** Signs `claims` with the current version; adds `iss`, `aud`, `iat`, and `exp` unless given. */
  sign(claims: JwtClaims, options?: SignOptions): string;
  /** Verifies strictly and returns the claims; throws RotorError `ERR_ROTOR_JWT_*`. */
  verify<C extends JwtClaims = JwtClaims>(token: string, options?: VerifyOptions): VerifiedJwt<C>;
  /** Resolves once the first key set is loaded (sign and verify throw ERR_ROTOR_JWT_NOT_READY before). */
  ready(): Promise<void>;
  /** The kid sign currently uses, if any. */
  readonly currentKid: string | undefined;
  /** Stops watching the source (the source itself is the caller's to close). */
  close(): Promise<void>;
}

function fail(code: RotorErrorCode, message: string): RotorError {
  return new RotorError(code, message);
}

function optionsInvalid(message: string): RotorError {
  return new RotorError('ERR_ROTOR_JWT_OPTIONS_INVALID', message);
}

function toSeconds(value: number | string, what: string): number {
  // JavaScript callers get no compile-time check: a missing or mistyped value is named here.
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw optionsInvalid(
      `${what} must be a non-negative number of seconds or a duration like 15m (got ${value === undefined ? 'nothing' : typeof value})`,
    );
  }
  let seconds: number;
  try {
    seconds = typeof value === 'number' ? value : parseDuration(value) / 1000;
  } catch (error) {
    throw optionsInvalid(`${what}: ${(error as Error).message}`);
  }
  if (!Number.isFinite(seconds) || seconds < 0)
    throw optionsInvalid(`${what} must be a non-negative number of seconds or a duration like 15m`);
  return seconds;
}

/** RFC 8725 §3.11 media types: compared case-insensitively, `application/` optional. */
function normalizeType(type: string): string {
  const t = type.toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}

function audienceSet(audience: string | readonly string[], what: string): ReadonlySet<string> {
  if (typeof audience !== 'string' && !Array.isArray(audience))
    throw optionsInvalid(`${what} must be a non-empty string or list of strings`);
  const list = typeof audience === 'string' ? [audience] : [...(audience as readonly string[])];
  if (list.length === 0 || list.some((a) => typeof a !== 'string' || a.length === 0))
    throw optionsInvalid(`${what} must be a non-empty string or list of strings`);
  return new Set(list);
}

const JSON_WHY = {
  utf8: 'is not valid UTF-8',
  syntax: 'is not JSON',
  'not-object': 'is not a JSON object',
} as const;

function jsonFailure(
  part: 'header' | 'payload',
  result: Exclude<StrictJsonResult, { ok: true }>,
): RotorError {
  if (result.why === 'duplicate')
    return fail('ERR_ROTOR_JWT_DUPLICATE_MEMBER', `the ${part} repeats a member name`);
  return fail('ERR_ROTOR_JWT_MALFORMED', `the ${part} ${JSON_WHY[result.why]}`);
}

/** Why `kid` found no usable key: its own code for each case. */
function kidFailure(ring: Keyring, kid: unknown): RotorError {
  if (typeof kid !== 'string')
    return fail(
      'ERR_ROTOR_JWT_KID_MALFORMED',
      `the kid is a ${kid === null ? 'null' : typeof kid}, not a string`,
    );
  if (kid.length > MAX_KID_LENGTH)
    return fail(
      'ERR_ROTOR_JWT_KID_OVERSIZE',
      `the kid is ${kid.length} characters; a Rotor kid has 36`,
    );
  if (!VERSION_ID_PATTERN.test(kid))
    return fail('ERR_ROTOR_JWT_KID_MALFORMED', 'the kid is not a Rotor version id');
  const retired = ring.retired.get(kid);
  if (retired === 'compromised')
    return fail(
      'ERR_ROTOR_JWT_KID_COMPROMISED',
      `key ${kid} of ${ring.secret} was compromised and revoked (emergency rotation)`,
    );
  if (retired === 'retired')
    return fail('ERR_ROTOR_JWT_KID_RETIRED', `key ${kid} of ${ring.secret} is retired`);
  if (ring.invalidated.has(kid))
    return fail(
      'ERR_ROTOR_JWT_KID_RETIRED',
      `key ${kid} of ${ring.secret} was replaced and ${ring.secret} is on-rotate: invalidate`,
    );
  return fail('ERR_ROTOR_JWT_KID_UNKNOWN', `no key ${kid} in ${ring.secret}`);
}

/**
 * Creates the keyring of one secret and starts loading it.
 *
 * @example
 * import { createJwtKeys, fromEnv } from 'rotor/jwt';
 * const access = createJwtKeys({ secret: 'JWT_ACCESS_SECRET', source: fromEnv(), issuer: 'https://api.example.com',
 *   audience: 'api', type: 'at+jwt', maxAge: '15m', clockTolerance: 5 });
 * await access.ready();
 * const token = access.sign({ sub: user.id });
 * const { claims } = access.verify(token);
 */
export function createJwtKeys(options: JwtKeysOptions): JwtKeys {
  if (typeof options !== 'object' || options === null)
    throw optionsInvalid('createJwtKeys takes one options object');
  const { secret, source } = options;
  if (typeof secret !== 'string' || secret.length === 0)
    throw optionsInvalid('secret must name a Rotor secret');
  if (typeof source?.load !== 'function' || typeof source.watch !== 'function')
    throw optionsInvalid('source must be a KeySource (fromEnv(), fromStore(), …)');
  if (typeof options.issuer !== 'string' || options.issuer.length === 0)
    throw optionsInvalid('issuer must be a non-empty string');
  const issuer = options.issuer;
  const audiences = audienceSet(options.audience, 'audience');
  const audience: string | string[] =
    typeof options.audience === 'string' ? options.audience : [...options.audience];
  const maxAge = toSeconds(options.maxAge, 'maxAge');
  const tolerance = toSeconds(options.clockTolerance ?? 0, 'clockTolerance');
  const maxTokenBytes = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  if (!Number.isSafeInteger(maxTokenBytes) || maxTokenBytes < 64)
    throw optionsInvalid('maxTokenBytes must be an integer of at least 64');
  const requireExp = options.requireExp ?? true;
  if (options.type !== undefined && (typeof options.type !== 'string' || options.type.length === 0))
    throw optionsInvalid('type must be a non-empty string');
  const defaultType = options.type === undefined ? undefined : normalizeType(options.type);
  let explicitAlgorithms: ReadonlySet<string> | undefined;
  if (options.algorithms !== undefined) {
    if (!Array.isArray(options.algorithms))
      throw optionsInvalid('algorithms must be a list such as ["HS256"]');
    const algorithms: readonly string[] = options.algorithms;
    const unknown = algorithms.filter((a) => algSpec(a) === undefined);
    if (options.algorithms.length === 0 || unknown.length > 0) {
      throw optionsInvalid(
        `algorithms must list some of HS256, HS384, HS512, EdDSA, ES256${unknown.length > 0 ? ` (not ${unknown.join(', ')})` : ''}`,
      );
    }
    explicitAlgorithms = new Set(options.algorithms);
  }
  let migration: { until: number; kid?: string } | undefined;
  if (options.acceptWithoutKid !== undefined) {
    const { until, kid } = options.acceptWithoutKid;
    const untilMs = until instanceof Date ? until.getTime() : until;
    if (typeof untilMs !== 'number' || !Number.isFinite(untilMs))
      throw optionsInvalid('acceptWithoutKid.until must be a Date or milliseconds since the epoch');
    if (kid !== undefined && !VERSION_ID_PATTERN.test(kid))
      throw optionsInvalid('acceptWithoutKid.kid must be a Rotor version id');
    migration = { until: untilMs, ...(kid !== undefined ? { kid } : {}) };
  }
  const revocation = options.revocation;
  const clock = options.clock ?? { now: () => Date.now() };
  const onError =
    options.onError ??
    ((error: unknown) =>
      process.emitWarning(
        `rotor/jwt: reloading ${secret} failed (${(error as { code?: string }).code ?? 'error'}); keeping the last key set`,
      ));

  let ring: Keyring | undefined;
  let closed = false;
  let loading: Promise<void> | undefined;
  let again = false;

  /**
   * Loads the key set; a change signalled during a load runs one more load after it. `loading`
   * is cleared in the same step that decides not to loop again, so no signal falls in between.
   */
  function reload(): Promise<void> {
    if (loading) {
      again = true;
      return loading;
    }
    let done = false;
    let run: Promise<void> | undefined = undefined;
    run = (async () => {
      try {
        do {
          again = false;
          const set = await source.load(secret);
          if (closed) return;
          if (ring === undefined || set.revision !== ring.revision) ring = compileKeyring(set);
        } while (again && !closed);
      } finally {
        done = true;
        if (loading === run) loading = undefined;
      }
    })();
    if (!done) loading = run;
    return run;
  }

  const first = reload();
  first.catch(() => undefined); // surfaced through ready(); never an unhandled rejection
  const unwatch = source.watch(secret, () => {
    if (closed) return;
    reload().catch((error: unknown) => {
      if (!closed) onError(error);
    });
  });

  function migrationEntry(r: Keyring, now: number): KidEntry {
    if (migration === undefined || now >= migration.until) {
      throw fail(
        'ERR_ROTOR_JWT_KID_MISSING',
        migration === undefined
          ? 'the token has no kid'
          : `the token has no kid, and tokens without one were accepted only until ${new Date(migration.until).toISOString()}`,
      );
    }
    if (migration.kid === undefined) {
      if (r.current === undefined)
        throw fail(
          'ERR_ROTOR_JWT_KID_MISSING',
          'the token has no kid and there is no current key to check it against',
        );
      return r.current;
    }
    const entry = r.byKid.get(migration.kid);
    if (entry === undefined) throw kidFailure(r, migration.kid);
    return entry;
  }

  function verify<C extends JwtClaims = JwtClaims>(
    token: string,
    verifyOptions?: VerifyOptions,
  ): VerifiedJwt<C> {
    const r = ring;
    if (r === undefined)
      throw fail(
        'ERR_ROTOR_JWT_NOT_READY',
        `the ${secret} keyring is not loaded yet: await ready() first`,
      );
    if (typeof token !== 'string')
      throw fail('ERR_ROTOR_JWT_MALFORMED', 'the token is not a string');
    // Before any parsing. Length counts UTF-16 units; a token with non-ASCII characters is
    // longer in bytes but is refused as non-base64url right after.
    if (token.length > maxTokenBytes)
      throw fail(
        'ERR_ROTOR_JWT_TOKEN_TOO_LARGE',
        `the token is ${token.length} bytes; the limit is ${maxTokenBytes}`,
      );
    if (!COMPACT_JWS.test(token)) {
      const shape = diagnoseShape(token);
      throw fail(
        shape.code === 'alphabet' ? 'ERR_ROTOR_JWT_BASE64_NONCANONICAL' : 'ERR_ROTOR_JWT_MALFORMED',
        `not a compact JWS: ${shape.detail}`,
      );
    }
    const dot1 = token.indexOf('.');
    const dot2 = token.indexOf('.', dot1 + 1);
    if (
      !canonicalSegment(token, 0, dot1) ||
      !canonicalSegment(token, dot1 + 1, dot2) ||
      !canonicalSegment(token, dot2 + 1, token.length)
    ) {
      throw fail(
        'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
        'a segment is not canonical base64url (impossible length or non-zero trailing bits)',
      );
    }
    const h = parseStrictJsonObject(Buffer.from(token.slice(0, dot1), 'base64url'));
    if (!h.ok) throw jsonFailure('header', h);
    const header = h.value;
    const alg = header.alg;
    if (typeof alg !== 'string') throw fail('ERR_ROTOR_JWT_MALFORMED', 'the header has no alg');
    if (!(explicitAlgorithms ?? r.algorithms).has(alg)) {
      if (alg.toLowerCase() === 'none')
        throw fail('ERR_ROTOR_JWT_ALG_NONE', 'unsecured tokens (alg none) are never accepted');
      throw fail('ERR_ROTOR_JWT_ALG_NOT_ALLOWED', `alg ${alg.slice(0, 16)} is not allowed`);
    }
    if (
      header.jku !== undefined ||
      header.x5u !== undefined ||
      header.jwk !== undefined ||
      header.x5c !== undefined
    ) {
      const which = ['jku', 'x5u', 'jwk', 'x5c'].filter((m) => header[m] !== undefined).join(', ');
      throw fail(
        'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
        `the header names its own key (${which}); keys come only from the keyring and are never fetched`,
      );
    }
    if (header.crit !== undefined)
      throw fail(
        'ERR_ROTOR_JWT_CRIT_UNSUPPORTED',
        'the header has crit: Rotor understands no JWS extension',
      );
    const kid = header.kid;
    const now = clock.now();
    let entry: KidEntry | undefined;
    if (kid === undefined) {
      entry = migrationEntry(r, now);
    } else {
      entry = r.byKid.get(kid as string);
      if (entry === undefined) throw kidFailure(r, kid);
    }
    if (now >= entry.acceptUntil) {
      throw fail(
        'ERR_ROTOR_JWT_KID_RETIRED',
        `key ${entry.kid} of ${secret} was accepted until ${new Date(entry.acceptUntil).toISOString()} (grace window over)`,
      );
    }
    // The key's own algorithm decides; the header only has to agree with it.
    if (entry.alg !== alg)
      throw fail(
        'ERR_ROTOR_JWT_KEY_TYPE_MISMATCH',
        `key ${entry.kid} is for ${entry.alg}; the token says ${alg}`,
      );
    if (!verifySignature(entry, token.slice(0, dot2), token.slice(dot2 + 1)))
      throw fail('ERR_ROTOR_JWT_SIGNATURE_INVALID', 'the signature does not verify');

    // Authentic from here on.
    const expectedType =
      verifyOptions?.type !== undefined ? normalizeType(verifyOptions.type) : defaultType;
    if (expectedType !== undefined) {
      const typ = header.typ;
      // The usual case, the exact spelling sign writes, skips normalizing.
      if (
        typeof typ !== 'string' ||
        (typ !== expectedType && normalizeType(typ) !== expectedType)
      ) {
        throw fail(
          'ERR_ROTOR_JWT_TYPE_MISMATCH',
          `the token's typ is ${typeof typ === 'string' ? typ.slice(0, 32) : 'missing'}; expected ${expectedType}`,
        );
      }
    }
    const p = parseStrictJsonObject(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url'));
    if (!p.ok) throw jsonFailure('payload', p);
    const claims = p.value as JwtClaims;
    const nowSeconds = Math.floor(now / 1000);
    const { exp, nbf, iat } = claims;
    if (exp === undefined) {
      if (requireExp) throw fail('ERR_ROTOR_JWT_EXP_MISSING', 'the token has no exp');
    } else if (typeof exp !== 'number' || !Number.isFinite(exp)) {
      throw fail('ERR_ROTOR_JWT_CLAIM_INVALID', 'exp is not a number');
    } else if (exp <= nowSeconds - tolerance) {
      throw fail('ERR_ROTOR_JWT_EXPIRED', 'the token has expired');
    }
    if (nbf !== undefined) {
      if (typeof nbf !== 'number' || !Number.isFinite(nbf))
        throw fail('ERR_ROTOR_JWT_CLAIM_INVALID', 'nbf is not a number');
      if (nbf > nowSeconds + tolerance)
        throw fail('ERR_ROTOR_JWT_NOT_YET_VALID', 'the token is not valid yet (nbf)');
    }
    if (iat !== undefined) {
      if (typeof iat !== 'number' || !Number.isFinite(iat))
        throw fail('ERR_ROTOR_JWT_CLAIM_INVALID', 'iat is not a number');
      if (iat > nowSeconds + tolerance)
        throw fail('ERR_ROTOR_JWT_NOT_YET_VALID', 'the token was issued in the future (iat)');
    }
    if (claims.iss !== issuer)
      throw fail('ERR_ROTOR_JWT_ISSUER_MISMATCH', 'the token has another issuer');
    const accepted =
      verifyOptions?.audience !== undefined
        ? audienceSet(verifyOptions.audience, 'audience')
        : audiences;
    const aud = claims.aud;
    let audienceOk = false;
    if (typeof aud === 'string') audienceOk = accepted.has(aud);
    else if (Array.isArray(aud))
      for (const a of aud) if (typeof a === 'string' && accepted.has(a)) audienceOk = true;
    if (!audienceOk)
      throw fail('ERR_ROTOR_JWT_AUDIENCE_MISMATCH', 'the token is for another audience');
    if (revocation !== undefined) {
      let revoked: boolean;
      try {
        revoked = revocation.isRevoked(claims);
      } catch {
        revoked = true; // fail closed
      }
      if (revoked) throw fail('ERR_ROTOR_JWT_REVOKED', 'the token was revoked');
    }
    return { claims: claims as C, header: header as JwtHeader, kid: entry.kid, stage: entry.stage };
  }

  function sign(claims: JwtClaims, signOptions?: SignOptions): string {
    const r = ring;
    if (r === undefined)
      throw fail(
        'ERR_ROTOR_JWT_NOT_READY',
        `the ${secret} keyring is not loaded yet: await ready() first`,
      );
    if (r.current === undefined || r.signingKey === undefined)
      throw fail(
        'ERR_ROTOR_JWT_NO_SIGNING_KEY',
        `${secret} has no current signing key in this source`,
      );
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
      throw optionsInvalid('claims must be an object');
    const entry = r.current;
    const type = signOptions?.type ?? options.type;
    const iat = Math.floor(clock.now() / 1000);
    const lifetime =
      signOptions?.maxAge !== undefined ? toSeconds(signOptions.maxAge, 'maxAge') : maxAge;
    const header =
      type === undefined
        ? { alg: entry.alg, kid: entry.kid }
        : { alg: entry.alg, kid: entry.kid, typ: type };
    const payload = {
      ...claims,
      iss: issuer,
      aud: audience,
      iat,
      exp: typeof claims.exp === 'number' ? claims.exp : iat + Math.floor(lifetime),
    };
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const token = `${input}.${createSignature(entry.spec, r.signingKey, input)}`;
    if (token.length > maxTokenBytes)
      throw optionsInvalid(
        `the token would be ${token.length} bytes, over maxTokenBytes (${maxTokenBytes})`,
      );
    return token;
  }

  return {
    sign,
    verify,
    // After a failed first load, ready() tries again rather than repeating the old failure.
    ready: () => (ring !== undefined ? Promise.resolve() : (loading ?? reload())),
    get currentKid() {
      return ring?.current?.kid;
    },
    async close() {
      closed = true;
      unwatch();
      await loading?.catch(() => undefined);
    },
  };
}
