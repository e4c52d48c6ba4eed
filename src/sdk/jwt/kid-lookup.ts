// Which key of the ring checks a token: one lookup by kid (current, standby, or a previous
// version still in its grace window), or the migration key for a kid-less token. Never a search.
import { VERSION_ID_PATTERN } from '../../core/delivery/kid-variable.js';
import type { RotorError } from '../../core/errors.js';
import { fail } from './jwt-errors.js';
import type { JwtSettings, Migration } from './jwt-options.js';
import type { KidEntry, Keyring } from './keyring.js';

/** Kids longer than this are refused as oversize before any lookup (a version id has 36). */
export const MAX_KID_LENGTH = 64;

/** Why `kid` found no usable key: its own code for each case. */
export function kidFailure(ring: Keyring, kid: unknown): RotorError {
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

/** The key a kid-less token is checked against, while the migration window is open. */
export function migrationEntry(
  r: Keyring,
  migration: Migration | undefined,
  now: number,
): KidEntry {
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

/** The key for the header's kid, refused once its grace window is over. */
export function selectKey(s: JwtSettings, r: Keyring, kid: unknown, now: number): KidEntry {
  let entry: KidEntry | undefined;
  if (kid === undefined) {
    entry = migrationEntry(r, s.migration, now);
  } else {
    entry = r.byKid.get(kid as string);
    if (entry === undefined) throw kidFailure(r, kid);
  }
  if (now >= entry.acceptUntil) {
    throw fail(
      'ERR_ROTOR_JWT_KID_RETIRED',
      `key ${entry.kid} of ${s.secret} was accepted until ${new Date(entry.acceptUntil).toISOString()} (grace window over)`,
    );
  }
  return entry;
}
