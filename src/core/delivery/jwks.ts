// The public JWK Set of an asymmetric signing secret, each key derived from the sealed private key
// so an edited row cannot slip a public key in (docs/security.md).
import { recordAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import type { PublicJwk } from '../rotator/rotator-contract.js';
import { openVersion, parseMeta, type VersionRow } from '../vault/versions.js';
import { assertReadable } from './read-values.js';

export type PublishedStage = 'standby' | 'current' | 'previous';

/** A JWK Set as verifiers read it (RFC 7517 §5). */
export interface JwkSet {
  keys: PublicJwk[];
}

/** One published key with where it stands, for people and for `--json` callers that want more. */
export interface PublishedKey {
  kid: string;
  stage: PublishedStage;
  alg: string;
  /** standby: when it may become current; previous: when its grace window ends (ms since epoch). */
  until: number | null;
}

export interface JwksResult {
  secret: string;
  environment: string;
  jwks: JwkSet;
  keys: PublishedKey[];
}

/** The members a public signing JWK may carry; anything else (above all `d`) is dropped. */
function publicOnly(jwk: PublicJwk): PublicJwk {
  return {
    kty: jwk.kty,
    crv: jwk.crv,
    x: jwk.x,
    ...(jwk.y === undefined ? {} : { y: jwk.y }),
    kid: jwk.kid,
    alg: jwk.alg,
    use: 'sig',
  };
}

const ORDER: Record<PublishedStage, number> = { current: 0, standby: 1, previous: 2 };

type Published = { key: PublishedKey; jwk: PublicJwk };

/** The key versions of `name` a verifier may meet now: standby, current, previous in its grace. */
async function liveKeyVersions(
  store: Store,
  where: { name: string; environment: string },
  now: number,
): Promise<VersionRow[]> {
  const { name, environment } = where;
  const rows: VersionRow[] = await store.guard(() =>
    store.db
      .selectFrom('versions')
      .selectAll()
      .where('secret', '=', name)
      .where('environment', '=', environment)
      .where('stage', 'in', ['standby', 'current', 'previous'])
      .orderBy('created_at', 'desc')
      .execute(),
  );
  const live = rows.filter(
    (r) => r.stage !== 'previous' || (r.retire_at !== null && r.retire_at > now),
  );
  if (live.length === 0) {
    throw new RotorError(
      'ERR_ROTOR_VERSION_NOT_FOUND',
      `${name} has no key to publish in ${environment}: rotate it first (an empty JWK Set would make every verifier reject every token)`,
      {
        details: { secret: name, environment },
      },
    );
  }
  return live;
}

/** When each standby version may become current: its waiting rotation's `promote_after`. */
async function standbyPromoteAfter(
  store: Store,
  where: { name: string; environment: string },
): Promise<Map<string | null, number | null>> {
  const waiting = await store.guard(() =>
    store.db
      .selectFrom('rotations')
      .select(['pending_version_id', 'promote_after'])
      .where('secret', '=', where.name)
      .where('environment', '=', where.environment)
      .where('state', '=', 'waiting')
      .execute(),
  );
  return new Map(waiting.map((w) => [w.pending_version_id, w.promote_after]));
}

/** Until when a key stands where it is: previous to its grace end, standby to its promotion. */
function keyUntil(row: VersionRow, promoteAfter: Map<string | null, number | null>): number | null {
  if (row.stage === 'previous') return row.retire_at;
  if (row.stage === 'standby') return promoteAfter.get(row.id) ?? null;
  return null;
}

/**
 * Reads the public JWK Set of `name` in `environment` and audits it as one `read.jwks` row.
 * Current first (naive verifiers that take the first key get the one that signs), then
 * standby, then previous.
 *
 * @example
 * const { jwks } = await readJwks(rotor, actor, 'JWT_SIGNING_KEY', 'production');
 * const verify = createLocalJWKSet(jwks); // jose
 */
export async function readJwks(
  rotor: Rotor,
  actor: Actor,
  name: string,
  environment: string,
): Promise<JwksResult> {
  const spec = assertReadable(rotor, name, environment);
  const rotator = rotor.rotator(spec.kind);
  if (!rotator.publicJwk) {
    throw new RotorError(
      'ERR_ROTOR_JWKS_NOT_PUBLISHABLE',
      `${name} is a ${spec.kind} secret: its keys are symmetric (or not keys at all) and are never published; only asymmetric kinds such as jwt-keypair have a JWK Set`,
      { details: { secret: name, kind: spec.kind } },
    );
  }
  const store = await rotor.store();
  const master = await rotor.masterKey();
  const live = await liveKeyVersions(store, { name, environment }, rotor.clock.now());
  const promoteAfter = await standbyPromoteAfter(store, { name, environment });
  const published = live.map((row): Published => {
    const ctx = { secret: name, environment, versionId: row.id, config: spec.config };
    const material = { versionId: row.id, value: openVersion(master, row), meta: parseMeta(row) };
    const jwk = publicOnly(
      rotator.publicJwk!({ ...ctx, clock: rotor.clock, emergency: false }, material),
    );
    const stage = row.stage as PublishedStage;
    return { key: { kid: jwk.kid, stage, alg: jwk.alg, until: keyUntil(row, promoteAfter) }, jwk };
  });
  published.sort((a, b) => ORDER[a.key.stage] - ORDER[b.key.stage]);

  await recordAudit(store, rotor.clock, actor, {
    secret: name,
    environment,
    action: 'read.jwks',
    outcome: 'success',
    notes: published.map((p) => `${p.key.stage} ${p.key.kid}`).join('; '),
    details: { count: published.length, kind: spec.kind },
  });
  return {
    secret: name,
    environment,
    jwks: { keys: published.map((p) => p.jwk) },
    keys: published.map((p) => p.key),
  };
}
