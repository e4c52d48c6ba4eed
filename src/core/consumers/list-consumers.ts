// Which consumers hold which versions, against the current version of each secret: what the
// dashboard shows before an old credential dies, and what `retire` waits on.
import type { Kysely } from 'kysely';
import { RotorError } from '../errors.js';
import type { Database } from '../store/schema.js';
import { isLive, tokenStillValid, type ConsumerInfo } from './consumer-record.js';

export interface ConsumerFilter {
  secret?: string;
  environment?: string;
  /** Only consumers whose heartbeat has not lapsed. */
  liveOnly?: boolean;
}

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}

/** One row per consumer and secret it holds, with the version current there now. */
function holdingRows(db: Kysely<Database>, filter: ConsumerFilter) {
  let query = db
    .selectFrom('consumer_versions as cv')
    .innerJoin('consumers as c', 'c.id', 'cv.consumer_id')
    .leftJoin('versions as v', (join) =>
      join
        .onRef('v.secret', '=', 'cv.secret')
        .onRef('v.environment', '=', 'cv.environment')
        .on('v.stage', '=', 'current'),
    )
    .leftJoin('api_tokens as t', 't.id', 'c.token_id')
    .select([
      'c.id',
      'c.app',
      'c.token_id',
      'c.interval_ms',
      'c.first_seen_at',
      'c.last_seen_at',
      'cv.secret',
      'cv.environment',
      'cv.version_id',
      'cv.reported_at',
      'v.id as current_id',
    ])
    .select([
      't.id as token_row',
      't.revoked_at as token_revoked_at',
      't.expires_at as token_expires_at',
    ]);
  if (filter.secret) query = query.where('cv.secret', '=', filter.secret);
  if (filter.environment) query = query.where('cv.environment', '=', filter.environment);
  return query
    .orderBy('c.app')
    .orderBy('c.id')
    .orderBy('cv.secret')
    .orderBy('cv.environment')
    .execute();
}

/** Folds holding rows (ordered by consumer) into one ConsumerInfo per consumer. */
function groupConsumers(
  rows: Awaited<ReturnType<typeof holdingRows>>,
  liveOnly: boolean | undefined,
  now: number,
): ConsumerInfo[] {
  const byId = new Map<string, ConsumerInfo>();
  for (const r of rows) {
    let info = byId.get(r.id);
    if (!info) {
      const live = isLive(r.last_seen_at, r.interval_ms, now) && tokenStillValid(r, now);
      if (liveOnly && !live) continue;
      info = {
        id: r.id,
        app: r.app,
        tokenId: r.token_id,
        intervalMs: Number(r.interval_ms),
        firstSeenAt: iso(r.first_seen_at),
        lastSeenAt: iso(r.last_seen_at),
        live,
        holds: [],
      };
      byId.set(r.id, info);
    }
    const current = r.current_id ?? null;
    info.holds.push({
      secret: r.secret,
      environment: r.environment,
      version: r.version_id,
      reportedAt: iso(r.reported_at),
      currentVersion: current,
      behind: current !== null && r.version_id !== current,
    });
  }
  return [...byId.values()];
}

/**
 * Consumers (with their holdings, narrowed by the filter) as of `now`.
 *
 * @example
 * const behind = (await listConsumers(store.db, { secret: 'JWT_ACCESS_SECRET', environment: 'production' }, clock.now())).filter((c) => c.holds.some((h) => h.behind));
 */
export async function listConsumers(
  db: Kysely<Database>,
  filter: ConsumerFilter,
  now: number,
): Promise<ConsumerInfo[]> {
  return groupConsumers(await holdingRows(db, filter), filter.liveOnly, now);
}

export interface ConsumerBehind {
  id: string;
  app: string;
  version: string;
  lastSeenAt: string;
}

/** Live consumers of `secret` in `environment` that hold something other than `currentVersionId`. */
export async function consumersBehind(
  db: Kysely<Database>,
  of: { secret: string; environment: string; currentVersionId: string },
  now: number,
): Promise<ConsumerBehind[]> {
  const { secret, environment, currentVersionId } = of;
  const rows = await db
    .selectFrom('consumer_versions as cv')
    .innerJoin('consumers as c', 'c.id', 'cv.consumer_id')
    .leftJoin('api_tokens as t', 't.id', 'c.token_id')
    .select([
      'c.id',
      'c.app',
      'c.interval_ms',
      'c.last_seen_at',
      'cv.version_id',
      'c.token_id',
      't.id as token_row',
      't.revoked_at as token_revoked_at',
      't.expires_at as token_expires_at',
    ])
    .where('cv.secret', '=', secret)
    .where('cv.environment', '=', environment)
    .where('cv.version_id', '!=', currentVersionId)
    .orderBy('c.id')
    .execute();
  return rows
    .filter((r) => isLive(r.last_seen_at, r.interval_ms, now) && tokenStillValid(r, now))
    .map((r) => ({ id: r.id, app: r.app, version: r.version_id, lastSeenAt: iso(r.last_seen_at) }));
}

/**
 * Refuses (ERR_ROTOR_RETIRE_POSTPONED, naming them) to let a previous version of `secret` go
 * while a live consumer has not acknowledged the current one. The engine calls it before the
 * rotator revokes anything; `--force` and emergencies skip it.
 */
export async function assertConsumersCaughtUp(
  db: Kysely<Database>,
  secret: string,
  environment: string,
  now: number,
): Promise<void> {
  const current = await db
    .selectFrom('versions')
    .select('id')
    .where('secret', '=', secret)
    .where('environment', '=', environment)
    .where('stage', '=', 'current')
    .executeTakeFirst();
  if (!current) return;
  const behind = await consumersBehind(
    db,
    { secret, environment, currentVersionId: current.id },
    now,
  );
  if (behind.length === 0) return;
  const shown = behind
    .slice(0, 5)
    .map((b) => `${b.app}/${b.id} (holds ${b.version}, seen ${b.lastSeenAt})`);
  const more = behind.length > 5 ? ` and ${behind.length - 5} more` : '';
  throw new RotorError(
    'ERR_ROTOR_RETIRE_POSTPONED',
    `${secret}/${environment}: ${behind.length} live consumer(s) have not acknowledged the current version ${current.id}: ${shown.join(', ')}${more}; retire again after they do or their heartbeats lapse (--force does not wait)`,
    {
      details: {
        secret,
        environment,
        currentVersion: current.id,
        consumers: behind.map((b) => b.id),
      },
    },
  );
}
