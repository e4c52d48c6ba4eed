// Lists API tokens (never their hashes), newest first.
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';
import { tokenInfo, type ApiTokenInfo } from './token-record.js';

export async function listApiTokens(
  store: Pick<Store, 'db' | 'guard'>,
  clock: Clock,
): Promise<ApiTokenInfo[]> {
  const rows = await store.guard(() =>
    store.db
      .selectFrom('api_tokens')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute(),
  );
  const now = clock.now();
  return rows.map((r) => tokenInfo(r, now));
}
