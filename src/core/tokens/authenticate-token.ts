// Turns a presented bearer token into the principal it names, or a 401-class RotorError that
// says why (malformed, unknown, wrong secret, expired, revoked). Unknown ids and wrong secrets
// get the same message, so the answer does not reveal which ids exist.
import type { Clock } from '../clock.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import type { TokenRow } from '../store/store-capabilities.js';
import { findTokenRow } from '../store/token-row.js';
import { parseToken, tokenSecretMatches } from './token-format.js';
import { compileGrant, isTokenRole, type CompiledGrant } from './token-grant.js';

export interface TokenPrincipal {
  id: string;
  name: string;
  grant: CompiledGrant;
}

export interface TokenAuthenticator {
  authenticate(presented: string): Promise<TokenPrincipal>;
}

/** The columns authentication reads. */
export type TokenLookupRow = TokenRow;

export interface AuthenticatorOptions {
  /** A faster lookup of one token row by id (the server's prepared statement); default a Kysely query. */
  findToken?: (id: string) => TokenLookupRow | undefined | Promise<TokenLookupRow | undefined>;
  /** How often at most `last_used_at` is written per token (default one minute): a read-heavy app must not turn every read into two writes. */
  touchEveryMs?: number;
}

/**
 * @example
 * const auth = createTokenAuthenticator(store, clock);
 * const principal = await auth.authenticate(bearer); // throws ERR_ROTOR_API_TOKEN_*
 */
export function createTokenAuthenticator(
  store: Pick<Store, 'db' | 'guard'>,
  clock: Clock,
  options: AuthenticatorOptions = {},
): TokenAuthenticator {
  const touchEveryMs = options.touchEveryMs ?? 60_000;
  const grants = new Map<string, CompiledGrant>();
  const touched = new Map<string, number>();
  const invalid = () =>
    new RotorError(
      'ERR_ROTOR_API_TOKEN_INVALID',
      'invalid API token: it is not a token this server issued (check for copy/paste damage)',
    );
  return {
    async authenticate(presented) {
      const parsed = parseToken(presented);
      if (!parsed) throw invalid();
      const row = options.findToken
        ? await options.findToken(parsed.id)
        : await findTokenRow(store, parsed.id);
      if (!row || !tokenSecretMatches(parsed.secret, row.hash) || !isTokenRole(row.role))
        throw invalid();
      const now = clock.now();
      if (row.revoked_at !== null) {
        throw new RotorError(
          'ERR_ROTOR_API_TOKEN_REVOKED',
          `API token ${row.id} ("${row.name}") was revoked on ${new Date(Number(row.revoked_at)).toISOString()}: ask an admin for a new one`,
          {
            details: { tokenId: row.id },
          },
        );
      }
      if (row.expires_at !== null && Number(row.expires_at) <= now) {
        throw new RotorError(
          'ERR_ROTOR_API_TOKEN_EXPIRED',
          `API token ${row.id} ("${row.name}") expired on ${new Date(Number(row.expires_at)).toISOString()}: ask an admin for a new one`,
          {
            details: { tokenId: row.id },
          },
        );
      }
      let grant = grants.get(row.id);
      if (!grant) {
        grant = compileGrant({
          role: row.role,
          secrets: JSON.parse(row.secrets) as string[],
          environments: JSON.parse(row.environments) as string[],
        });
        grants.set(row.id, grant);
      }
      const last = touched.get(row.id);
      if (last === undefined || now - last >= touchEveryMs) {
        touched.set(row.id, now);
        // Best effort: a busy store must not fail the request it only records.
        await store
          .guard(() =>
            store.db
              .updateTable('api_tokens')
              .set({ last_used_at: now })
              .where('id', '=', row.id)
              .execute(),
          )
          .catch(() => undefined);
      }
      return { id: row.id, name: row.name, grant };
    },
  };
}
