// Where every secret × environment stands against its cadence, computed from the store (never from
// rotor.yaml or a hand-kept file); states and their precedence: docs/status.md.
import type { Kysely } from 'kysely';
import { MS } from '../duration.js';
import { RotorError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { SecretSpec } from '../policy/policy.js';
import { MASTER_KEY_KIND, MASTER_KEY_ROTATED_AT } from '../crypto/master-key-names.js';
import type {
  Database,
  RotationState,
  RotationStep,
  RotationsTable,
  VersionsTable,
} from '../store/schema.js';
import { classify, type AgeState, type StatusState } from './classify.js';
import {
  credentialAlerts,
  kyselyAlertVersions,
  type AlertVersionRow,
  type CredentialAlert,
} from './credential-alerts.js';

export {
  STATUS_STATES,
  ageResolution,
  cadenceDates,
  classify,
  type AgeState,
  type StatusState,
} from './classify.js';

/** A running rotation whose updated_at is older than this is stuck (the engine touches it every step). */
export const STUCK_ROTATION_MS = 15 * MS.m;

/** The environment name of rows that apply to every environment (Rotor's master key). */
export const ALL_ENVIRONMENTS = '*';

export interface RotationInfo {
  id: string;
  state: RotationState;
  step: RotationStep;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | null;
  errorCode: string | null;
  /** Running, and no step recorded for longer than STUCK_ROTATION_MS. */
  stuck: boolean;
  /** For a `waiting` rotation: when its standby version may become current; else null. */
  promoteAfter: number | null;
}

export interface StatusRow {
  secret: string;
  kind: string;
  environment: string;
  state: StatusState;
  ageState: AgeState;
  owner: string | null;
  /** When the current version became current in the store (promoted, else created); null without one. */
  currentSince: number | null;
  /** The real-world date the current value was rotated; ages count from it. Null when unknown. */
  rotatedAt: number | null;
  ageMs: number | null;
  /** First instant the row is due-soon, due and overdue. Null when the age is unknown. */
  dueSoonAt: number | null;
  nextDueAt: number | null;
  overdueAt: number | null;
  /** End of the open grace window of the previous version, if one is open at `at`. */
  graceUntil: number | null;
  /** The latest rotation of this secret in this environment when it did not succeed (running, failed, rolled back); null when the last one succeeded or none ran. */
  rotation: RotationInfo | null;
  /** Credentials retire could not end or kept on purpose (credential-alerts.ts); usually empty. */
  alerts: readonly CredentialAlert[];
}

const NO_ALERTS: readonly CredentialAlert[] = [];

export interface StatusSummary {
  total: number;
  byState: Record<StatusState, number>;
  /** Rows with an open grace window, whatever their state. */
  inGrace: number;
  /** Running rotations that stopped advancing. */
  stuck: number;
}

export interface StatusReport {
  /** The instant the ages were evaluated at. */
  at: number;
  rows: StatusRow[];
  summary: StatusSummary;
}

export interface StatusOptions {
  /** The real current time (from the clock): stuck rotations are judged against it. */
  now: number;
  /** Evaluate ages and grace windows at this instant instead of `now` (`--at`). */
  at?: number;
  secret?: string;
  environment?: string;
}

export function emptyStateCounts(): Record<StatusState, number> {
  return {
    ok: 0,
    'due-soon': 0,
    due: 0,
    overdue: 0,
    unknown: 0,
    'in-grace': 0,
    rotating: 0,
    failed: 0,
  };
}

/** The current version's dates, as the query returns them (the row object is kept as is). */
interface CurrentVersion {
  rotated_at: number | null;
  since: number;
}

/**
 * Per secret, an array indexed by environment (its place in the environments table; `*` last):
 * the pass's lookup structure. No per-row string keys and no Map per secret, which keeps the
 * garbage collector's work small at 100k rows.
 */
interface PairMap<T> {
  envIndex: ReadonlyMap<string, number>;
  bySecret: Map<string, (T | undefined)[]>;
}

function createPairMap<T>(envIndex: ReadonlyMap<string, number>): PairMap<T> {
  return { envIndex, bySecret: new Map() };
}

function getPair<T>(map: PairMap<T>, secret: string, environment: string): T | undefined {
  const i = map.envIndex.get(environment);
  return i === undefined ? undefined : map.bySecret.get(secret)?.[i];
}

function setPair<T>(map: PairMap<T>, secret: string, environment: string, value: T): void {
  const i = map.envIndex.get(environment);
  // A version or rotation of an environment no longer configured is not shown.
  if (i === undefined) return;
  let slots = map.bySecret.get(secret);
  if (!slots)
    map.bySecret.set(secret, (slots = new Array<T | undefined>(map.envIndex.size).fill(undefined)));
  slots[i] = value;
}

interface Scope {
  secret?: string;
  environment?: string;
  envIndex: ReadonlyMap<string, number>;
}

type MaybePromise<T> = T | Promise<T>;

/** Which pairs a status covers: everything, or one secret and/or one environment. */
export interface StatusFilter {
  secret?: string;
  environment?: string;
}

/**
 * The reads a status is computed from, one method per query: `kyselyStatusQueries` (every store)
 * and `sqliteStatusQueries` (the reading commands' synchronous SQLite path) return the same rows.
 */
export interface StatusQueries {
  /** The environments table, by position. */
  environments(): MaybePromise<{ name: string; position: number }[]>;
  /** The secrets table (one secret's row with `name`), by name. */
  secrets(name?: string): MaybePromise<SecretRow[]>;
  /** The name of every secret in the store. */
  secretNames(): MaybePromise<string[]>;
  /** The current versions in `filter`, with `since` = promoted_at, else created_at. */
  currentVersions(filter: StatusFilter): MaybePromise<CurrentVersionRow[]>;
  /** The previous versions in `filter` whose retire_at is after `at`. */
  graceVersions(filter: StatusFilter, at: number): MaybePromise<GraceVersionRow[]>;
  /**
   * The rotations in `filter` that are running, failed, rolled back or waiting, with no
   * later-started rotation of the same pair; an environment filter also keeps `*` rows.
   */
  unfinishedRotations(filter: StatusFilter): MaybePromise<UnfinishedRotationRow[]>;
  /** What credential-alerts.ts reads. */
  alertVersions(): MaybePromise<AlertVersionRow[]>;
  meta(key: string): MaybePromise<string | undefined>;
}

export interface CurrentVersionRow {
  secret: string;
  environment: string;
  rotated_at: number | null;
  since: number;
}

export type GraceVersionRow = Pick<VersionsTable, 'secret' | 'environment' | 'retire_at'>;

export type UnfinishedRotationRow = Pick<
  RotationsTable,
  | 'id'
  | 'secret'
  | 'environment'
  | 'state'
  | 'step'
  | 'started_at'
  | 'updated_at'
  | 'finished_at'
  | 'error_code'
  | 'promote_after'
>;

/** The status reads as Kysely queries: what computeStatus uses on every store. */
export function kyselyStatusQueries(db: Kysely<Database>): StatusQueries {
  return {
    environments: () =>
      db.selectFrom('environments').select(['name', 'position']).orderBy('position').execute(),
    secrets: (name) => {
      let query = db.selectFrom('secrets').select(['name', 'kind', 'spec']).orderBy('name');
      if (name !== undefined) query = query.where('name', '=', name);
      return query.execute();
    },
    secretNames: async () =>
      (await db.selectFrom('secrets').select('name').execute()).map((r) => r.name),
    currentVersions: (filter) => kyselyCurrent(db, filter),
    graceVersions: (filter, at) => kyselyGrace(db, filter, at),
    unfinishedRotations: (filter) => kyselyUnfinishedRotations(db, filter),
    alertVersions: () => kyselyAlertVersions(db),
    meta: async (key) =>
      (await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst())
        ?.value,
  };
}

function kyselyCurrent(db: Kysely<Database>, scope: StatusFilter): Promise<CurrentVersionRow[]> {
  let query = db
    .selectFrom('versions')
    .select((eb) => [
      'secret',
      'environment',
      'rotated_at',
      eb.fn.coalesce('promoted_at', 'created_at').as('since'),
    ])
    .where('stage', '=', 'current');
  if (scope.secret !== undefined) query = query.where('secret', '=', scope.secret);
  if (scope.environment !== undefined) query = query.where('environment', '=', scope.environment);
  return query.execute();
}

/** The current version of every pair in scope: only the columns the pass needs, never the sealed bytes. */
async function loadCurrent(q: StatusQueries, scope: Scope): Promise<PairMap<CurrentVersion>> {
  const map = createPairMap<CurrentVersion>(scope.envIndex);
  for (const v of await q.currentVersions(scope)) {
    const seen = getPair(map, v.secret, v.environment);
    // Only one current version should exist; if not, the newest one is what apps use.
    if (!seen || v.since > seen.since) setPair(map, v.secret, v.environment, v);
  }
  return map;
}

function kyselyGrace(
  db: Kysely<Database>,
  scope: StatusFilter,
  at: number,
): Promise<GraceVersionRow[]> {
  let query = db
    .selectFrom('versions')
    .select(['secret', 'environment', 'retire_at'])
    .where('stage', '=', 'previous')
    .where('retire_at', '>', at);
  if (scope.secret !== undefined) query = query.where('secret', '=', scope.secret);
  if (scope.environment !== undefined) query = query.where('environment', '=', scope.environment);
  return query.execute();
}

/** The end of every grace window still open at `at` (previous versions not yet retired). */
async function loadGrace(q: StatusQueries, scope: Scope, at: number): Promise<PairMap<number>> {
  const map = createPairMap<number>(scope.envIndex);
  for (const v of await q.graceVersions(scope, at)) {
    const seen = getPair(map, v.secret, v.environment);
    if (v.retire_at !== null && (seen === undefined || v.retire_at > seen))
      setPair(map, v.secret, v.environment, v.retire_at);
  }
  return map;
}

/**
 * The latest rotation of each pair, for the pairs where it did not succeed: a rotation that is
 * not `succeeded` and has no later-started rotation. Reading the non-succeeded rotations through
 * the rotations_state index keeps this proportional to failures and running rotations rather
 * than to the whole rotation history.
 */
function kyselyUnfinishedRotations(
  db: Kysely<Database>,
  scope: StatusFilter,
): Promise<UnfinishedRotationRow[]> {
  let query = db
    .selectFrom('rotations as r')
    .select([
      'r.id',
      'r.secret',
      'r.environment',
      'r.state',
      'r.step',
      'r.started_at',
      'r.updated_at',
      'r.finished_at',
      'r.error_code',
      'r.promote_after',
    ])
    .where('r.state', 'in', ['running', 'failed', 'rolled_back', 'waiting'])
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('rotations as later')
            .select('later.id')
            .whereRef('later.secret', '=', 'r.secret')
            .whereRef('later.environment', '=', 'r.environment')
            .whereRef('later.started_at', '>', 'r.started_at'),
        ),
      ),
    );
  if (scope.secret !== undefined) query = query.where('r.secret', '=', scope.secret);
  if (scope.environment !== undefined)
    query = query.where('r.environment', 'in', [scope.environment, ALL_ENVIRONMENTS]);
  return query.execute();
}

async function loadUnfinishedRotations(
  q: StatusQueries,
  scope: Scope,
  now: number,
): Promise<PairMap<RotationInfo>> {
  const map = createPairMap<RotationInfo>(scope.envIndex);
  for (const r of await q.unfinishedRotations(scope)) {
    const seen = getPair(map, r.secret, r.environment);
    // Two rotations started in the same millisecond: the one that moved last is the latest.
    if (seen && seen.updatedAt >= r.updated_at) continue;
    setPair(map, r.secret, r.environment, {
      id: r.id,
      state: r.state,
      step: r.step,
      startedAt: r.started_at,
      updatedAt: r.updated_at,
      finishedAt: r.finished_at,
      errorCode: r.error_code,
      stuck: r.state === 'running' && now - r.updated_at > STUCK_ROTATION_MS,
      promoteAfter: r.state === 'waiting' ? r.promote_after : null,
    });
  }
  return map;
}

/**
 * Every secret × environment in the store (or the one secret / environment asked for) with its
 * state at `at` (default `now`).
 *
 * @example
 * const report = await computeStatus(store, { now: rotor.clock.now() });
 * report.summary.byState.overdue // 2
 */
export function computeStatus(
  store: { db: Kysely<Database> },
  options: StatusOptions,
): Promise<StatusReport> {
  return computeStatusFrom(kyselyStatusQueries(store.db), options);
}

/** computeStatus over any StatusQueries (the reading commands pass synchronous SQLite ones). */
export async function computeStatusFrom(
  q: StatusQueries,
  options: StatusOptions,
): Promise<StatusReport> {
  const now = options.now;
  const at = options.at ?? now;
  const scope = await loadScope(q, options);
  const secrets = await loadSecrets(q, scope);
  const keeps = new Set(
    secrets.filter((s) => s.spec.includes('"keepOriginalLogin":true')).map((s) => s.name),
  );
  const facts: Facts = {
    current: await loadCurrent(q, scope),
    grace: await loadGrace(q, scope, at),
    rotations: await loadUnfinishedRotations(q, scope, now),
    alerts: credentialAlerts(await q.alertVersions(), at, (name) => keeps.has(name)),
    master: await loadMasterCurrent(q, secrets),
  };
  const report = statusPass(secrets, facts, scope, at);
  if (scope.secret !== undefined && scope.environment !== undefined && report.rows.length === 0) {
    throw new RotorError(
      'ERR_ROTOR_ENV_UNKNOWN',
      `${scope.secret} is not used in environment "${scope.environment}"`,
      { details: { secret: scope.secret, environment: scope.environment } },
    );
  }
  return report;
}

/** The environments table as an index, and the secret / environment asked for (checked). */
async function loadScope(q: StatusQueries, options: StatusOptions): Promise<Scope> {
  const environments = await q.environments();
  const envIndex = new Map<string, number>(environments.map((e, i) => [e.name, i]));
  envIndex.set(ALL_ENVIRONMENTS, environments.length);
  const scope: Scope = {
    envIndex,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
    ...(options.environment === undefined ? {} : { environment: options.environment }),
  };
  if (scope.environment !== undefined && !envIndex.has(scope.environment)) {
    const names = environments.map((e) => e.name);
    throw new RotorError(
      'ERR_ROTOR_ENV_UNKNOWN',
      `unknown environment "${scope.environment}"${didYouMean(scope.environment, names)}: configured are ${names.join(', ') || 'none (run `rotor apply`)'}`,
      { details: { environment: scope.environment } },
    );
  }
  return scope;
}

export interface SecretRow {
  name: string;
  kind: string;
  spec: string;
}

async function loadSecrets(q: StatusQueries, scope: Scope): Promise<SecretRow[]> {
  const secrets = await q.secrets(scope.secret);
  if (scope.secret !== undefined && secrets.length === 0) {
    const known = await q.secretNames();
    throw new RotorError(
      'ERR_ROTOR_SECRET_UNKNOWN',
      `unknown secret "${scope.secret}"${didYouMean(scope.secret, known)}: it is not in the store (add it to rotor.yaml, then \`rotor apply\`)`,
      { details: { secret: scope.secret } },
    );
  }
  return secrets;
}

/** Rotor's master key has no versions: its date is in the meta table. */
async function loadMasterCurrent(
  q: StatusQueries,
  secrets: readonly SecretRow[],
): Promise<CurrentVersion | undefined> {
  if (!secrets.some((s) => s.kind === MASTER_KEY_KIND)) return undefined;
  const text = await q.meta(MASTER_KEY_ROTATED_AT);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return { rotated_at: Number(text), since: Number(text) };
}

/** What the pass looks pairs up in. */
interface Facts {
  current: PairMap<CurrentVersion>;
  grace: PairMap<number>;
  rotations: PairMap<RotationInfo>;
  alerts: Map<string, CredentialAlert[]>;
  master: CurrentVersion | undefined;
}

const MASTER_ENVS = [ALL_ENVIRONMENTS];

/** The environments a secret's rows are shown for, in environments-table order. */
function environmentsOf(row: SecretRow, spec: SecretSpec, scope: Scope): readonly string[] {
  if (row.kind === MASTER_KEY_KIND) return MASTER_ENVS;
  const { envIndex } = scope;
  const envs = spec.environments.filter(
    (e) =>
      e !== ALL_ENVIRONMENTS &&
      envIndex.has(e) &&
      (scope.environment === undefined || scope.environment === e),
  );
  if (envs.length > 1) envs.sort((a, b) => envIndex.get(a)! - envIndex.get(b)!);
  return envs;
}

/** One linear pass over the secrets: a row per secret × environment, classified, and the counts. */
function statusPass(
  secrets: readonly SecretRow[],
  facts: Facts,
  scope: Scope,
  at: number,
): StatusReport {
  const rows: StatusRow[] = [];
  const byState = emptyStateCounts();
  let inGrace = 0;
  let stuck = 0;
  for (const s of secrets) {
    const spec = JSON.parse(s.spec) as SecretSpec;
    const isMaster = s.kind === MASTER_KEY_KIND;
    const owner = spec.owner ?? null;
    const currentOf = facts.current.bySecret.get(s.name);
    const graceOf = facts.grace.bySecret.get(s.name);
    const rotationOf = facts.rotations.bySecret.get(s.name);
    for (const environment of environmentsOf(s, spec, scope)) {
      const e = scope.envIndex.get(environment)!;
      const cur = isMaster ? facts.master : currentOf?.[e];
      const rotatedAt = cur?.rotated_at ?? null;
      const graceUntil = graceOf?.[e] ?? null;
      const rotation = rotationOf?.[e] ?? null;
      const c = classify({ rotatedAt, graceUntil, rotation }, spec.cadence, at);
      byState[c.state]++;
      if (graceUntil !== null) inGrace++;
      if (rotation?.stuck) stuck++;
      rows.push({
        secret: s.name,
        kind: s.kind,
        environment,
        state: c.state,
        ageState: c.ageState,
        owner,
        currentSince: cur?.since ?? null,
        rotatedAt,
        ageMs: c.ageMs,
        dueSoonAt: c.dueSoonAt,
        nextDueAt: c.nextDueAt,
        overdueAt: c.overdueAt,
        graceUntil,
        rotation,
        alerts: facts.alerts.get(`${s.name}\u0000${environment}`) ?? NO_ALERTS,
      });
    }
  }
  return { at, rows, summary: { total: rows.length, byState, inGrace, stuck } };
}
