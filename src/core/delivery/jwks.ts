// The public JWK Set of an asymmetric signing secret, each key derived from the sealed private key
// so an edited row cannot slip a public key in (docs/security.md).
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { RotorError } from '../errors.js';
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
  const now = rotor.clock.now();
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
  const waiting = await store.guard(() =>
    store.db
      .selectFrom('rotations')
      .select(['pending_version_id', 'promote_after'])
      .where('secret', '=', name)
      .where('environment', '=', environment)
      .where('state', '=', 'waiting')
      .execute(),
  );
  const promoteAfter = new Map(waiting.map((w) => [w.pending_version_id, w.promote_after]));

  const published: { key: PublishedKey; jwk: PublicJwk }[] = [];
  for (const row of live) {
    const stage = row.stage as PublishedStage;
    const ctx = {
      secret: name,
      environment,
      versionId: row.id,
      config: spec.config,
      clock: rotor.clock,
      emergency: false,
    };
    const jwk = publicOnly(
      rotator.publicJwk(ctx, {
        versionId: row.id,
        value: openVersion(master, row),
        meta: parseMeta(row),
      }),
    );
    const until =
      stage === 'previous'
        ? row.retire_at
        : stage === 'standby'
          ? (promoteAfter.get(row.id) ?? null)
          : null;
    published.push({ key: { kid: jwk.kid, stage, alg: jwk.alg, until }, jwk });
  }
  published.sort((a, b) => ORDER[a.key.stage] - ORDER[b.key.stage]);

  await store.writeTransaction((trx) =>
    appendAudit(trx, rotor.clock, actor, {
      secret: name,
      environment,
      action: 'read.jwks',
      outcome: 'success',
      notes: published.map((p) => `${p.key.stage} ${p.key.kid}`).join('; '),
      details: { count: published.length, kind: spec.kind },
    }),
  );
  return {
    secret: name,
    environment,
    jwks: { keys: published.map((p) => p.jwk) },
    keys: published.map((p) => p.key),
  };
}
