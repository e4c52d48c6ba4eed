// One API token's row with the columns authentication reads, by id: shared by the token
// authenticator and the PostgreSQL read path, so both select the same columns.
import type { Store } from './open-store.js';
import type { TokenRow } from './store-capabilities.js';

/** The row of token `id` with the columns authentication reads, straight from the store. */
export function findTokenRow(
  store: Pick<Store, 'db' | 'guard'>,
  id: string,
): Promise<TokenRow | undefined> {
  return store.guard(() =>
    store.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'role', 'secrets', 'environments', 'hash', 'expires_at', 'revoked_at'])
      .where('id', '=', id)
      .executeTakeFirst(),
  );
}
