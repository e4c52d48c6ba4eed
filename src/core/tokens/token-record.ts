// An API token as the store holds it, minus its hash: what `rotor token list` and the API show.
import type { Selectable } from 'kysely';
import type { ApiTokensTable } from '../store/schema.js';
import type { TokenRole } from './token-grant.js';

export type ApiTokenRow = Selectable<ApiTokensTable>;

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: TokenRole;
  secrets: string[];
  environments: string[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedReason: string | null;
  lastUsedAt: string | null;
  /** `active`, `expired` or `revoked`, as of the clock that listed it. */
  state: 'active' | 'expired' | 'revoked';
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

export function tokenInfo(row: ApiTokenRow, now: number): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    role: row.role as TokenRole,
    secrets: JSON.parse(row.secrets) as string[],
    environments: JSON.parse(row.environments) as string[],
    createdBy: row.created_by,
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
    revokedReason: row.revoked_reason,
    lastUsedAt: iso(row.last_used_at),
    state:
      row.revoked_at !== null
        ? 'revoked'
        : row.expires_at !== null && Number(row.expires_at) <= now
          ? 'expired'
          : 'active',
  };
}
