// What an API token may do: its role, and for `app` tokens the secrets and environments it may
// read, as globs (`JWT_*`, `prod*`). Roles are fixed here; the server maps routes to them.
import { RotorError } from '../errors.js';

export const TOKEN_ROLES = ['admin', 'operator', 'auditor', 'app'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** A secret glob: the characters of a secret name plus `*`. */
export const SECRET_GLOB = /^[A-Z0-9_*]{1,128}$/;
/** An environment glob: the characters of an environment name plus `*`. */
export const ENV_GLOB = /^[a-z0-9*-]{1,63}$/;

export interface TokenGrant {
  role: TokenRole;
  /** Secret-name globs an `app` token may read (empty for other roles). */
  secrets: readonly string[];
  /** Environment globs an `app` token may read in (empty for other roles). */
  environments: readonly string[];
}

export function isTokenRole(value: string): value is TokenRole {
  return (TOKEN_ROLES as readonly string[]).includes(value);
}

/** `JWT_*` → /^JWT_.*$/; every other character is literal (the globs' alphabets hold no regex syntax but `*`). */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** A grant with its globs compiled once. */
export interface CompiledGrant extends TokenGrant {
  allows(secret: string, environment: string): boolean;
}

export function compileGrant(grant: TokenGrant): CompiledGrant {
  const secrets = grant.secrets.map(globToRegExp);
  const environments = grant.environments.map(globToRegExp);
  return {
    ...grant,
    allows(secret, environment) {
      if (grant.role === 'admin') return true;
      if (grant.role !== 'app') return false;
      return secrets.some((r) => r.test(secret)) && environments.some((r) => r.test(environment));
    },
  };
}

/**
 * Checks a grant as given by a person: a known role, and globs only on (and required for) `app`.
 *
 * @example
 * validateGrant({ role: 'app', secrets: ['JWT_*'], environments: ['production'] });
 */
export function validateGrant(grant: {
  role: string;
  secrets?: readonly string[];
  environments?: readonly string[];
}): TokenGrant {
  const invalid = (message: string, field: string) =>
    new RotorError('ERR_ROTOR_API_TOKEN_SPEC_INVALID', message, { details: { field } });
  if (!isTokenRole(grant.role))
    throw invalid(`unknown role "${grant.role}": use one of ${TOKEN_ROLES.join(', ')}`, 'role');
  const secrets = [...new Set(grant.secrets ?? [])];
  const environments = [...new Set(grant.environments ?? [])];
  if (grant.role !== 'app') {
    if (secrets.length > 0 || environments.length > 0) {
      throw invalid(
        `only app tokens carry --secret/--env grants (a ${grant.role} token's role decides what it may do)`,
        secrets.length > 0 ? 'secrets' : 'environments',
      );
    }
    return { role: grant.role, secrets: [], environments: [] };
  }
  if (secrets.length === 0)
    throw invalid('an app token needs at least one --secret pattern (e.g. JWT_*)', 'secrets');
  if (environments.length === 0)
    throw invalid(
      'an app token needs at least one --env pattern (e.g. production)',
      'environments',
    );
  for (const s of secrets)
    if (!SECRET_GLOB.test(s))
      throw invalid(`invalid secret pattern "${s}": use A-Z, 0-9, _ and *`, 'secrets');
  for (const e of environments)
    if (!ENV_GLOB.test(e))
      throw invalid(`invalid environment pattern "${e}": use a-z, 0-9, - and *`, 'environments');
  return { role: 'app', secrets, environments };
}
