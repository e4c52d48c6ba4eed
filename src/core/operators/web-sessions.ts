// Dashboard sessions. The cookie holds 32 random bytes; the store keeps only their SHA-256, so
// a copy of the database does not let anyone sign in. The CSRF token is derived from the
// cookie (an HMAC under it), so pages can render it without storing it; its hash is stored and
// every state-changing request is checked against it in constant time.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const SESSION_IDLE_MS = 60 * 60 * 1000;
/** last_seen is written at most this often, so reading pages does not write on every request. */
const TOUCH_EVERY_MS = 60 * 1000;

export interface WebSession {
  /** The stored id (hash of the cookie). */
  id: string;
  operator: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionLimits {
  ttlMs?: number;
  idleMs?: number;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function csrfFor(token: string): string {
  return createHmac('sha256', token).update('rotor:csrf:v1').digest('base64url');
}

/** Starts a session; the returned token goes into the cookie and is never stored. */
export async function createWebSession(
  store: Store,
  clock: Clock,
  operator: string,
  limits: SessionLimits = {},
): Promise<{ token: string; session: WebSession }> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = csrfFor(token);
  const now = clock.now();
  const session: WebSession = {
    id: sha256Hex(token),
    operator,
    csrfToken,
    createdAt: now,
    expiresAt: now + (limits.ttlMs ?? SESSION_TTL_MS),
  };
  await store.writeTransaction(async (trx) => {
    await trx.deleteFrom('web_sessions').where('expires_at', '<=', now).execute();
    await trx
      .insertInto('web_sessions')
      .values({
        id: session.id,
        operator,
        csrf_hash: sha256Hex(csrfToken),
        created_at: now,
        expires_at: session.expiresAt,
        last_seen: now,
      })
      .execute();
  });
  return { token, session };
}

/** The live session for a cookie value: not expired, not idle too long, operator not disabled. */
export async function findWebSession(
  store: Store,
  clock: Clock,
  token: string,
  limits: SessionLimits = {},
): Promise<WebSession | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const id = sha256Hex(token);
  const now = clock.now();
  const row = await store.guard(() =>
    store.db
      .selectFrom('web_sessions')
      .innerJoin('operators', 'operators.name', 'web_sessions.operator')
      .select([
        'web_sessions.operator',
        'web_sessions.created_at',
        'web_sessions.expires_at',
        'web_sessions.last_seen',
        'operators.disabled_at',
      ])
      .where('web_sessions.id', '=', id)
      .executeTakeFirst(),
  );
  if (!row || row.disabled_at !== null) return undefined;
  const lastSeen = Number(row.last_seen);
  if (Number(row.expires_at) <= now || lastSeen + (limits.idleMs ?? SESSION_IDLE_MS) <= now) {
    await store.guard(() => store.db.deleteFrom('web_sessions').where('id', '=', id).execute());
    return undefined;
  }
  if (now - lastSeen >= TOUCH_EVERY_MS)
    await store.guard(() =>
      store.db.updateTable('web_sessions').set({ last_seen: now }).where('id', '=', id).execute(),
    );
  return {
    id,
    operator: row.operator,
    csrfToken: csrfFor(token),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/** Compares a submitted CSRF token with the session's stored hash, in constant time. */
export async function checkCsrf(
  store: Store,
  session: Pick<WebSession, 'id'>,
  submitted: unknown,
): Promise<boolean> {
  if (typeof submitted !== 'string' || submitted.length === 0 || submitted.length > 256)
    return false;
  const row = await store.guard(() =>
    store.db
      .selectFrom('web_sessions')
      .select('csrf_hash')
      .where('id', '=', session.id)
      .executeTakeFirst(),
  );
  if (!row) return false;
  return timingSafeEqual(
    Buffer.from(sha256Hex(submitted), 'hex'),
    Buffer.from(row.csrf_hash, 'hex'),
  );
}

export async function endWebSession(store: Store, id: string): Promise<void> {
  await store.guard(() => store.db.deleteFrom('web_sessions').where('id', '=', id).execute());
}
