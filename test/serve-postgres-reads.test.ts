// The PostgreSQL read path of `rotor serve` (postgres-fast-reads.ts): lookups and token rows are
// cached until the store's NOTIFY says something changed, and every audit commit re-checks the
// versions it hands out, so a version that left its stage is never served even before the
// notification arrives. Then two real serve processes on one store: an emergency and a token
// revocation made through A are honoured by B once notified.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { verifyAuditChain } from '../src/core/audit/audit-verify.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import type { ChangeSource, Store } from '../src/core/store/open-store.js';
import { openPostgresFastReads } from '../src/core/store/postgres-fast-reads.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { revokeApiToken } from '../src/core/tokens/revoke-token.js';
import { parseToken } from '../src/core/tokens/token-format.js';
import { createSecretReadPath } from '../src/server/read-path/secret-read-path.js';
import { createProject, type TestProject } from './helpers/project.js';
import { waitFor, type ServeProcess } from './helpers/serve-process.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';
import { startTwoInstances, type TwoInstances } from './helpers/two-instances.js';

const postgres = await requireService('postgres');

const S = 'SESSION_SECRET';
const E = 'staging';
const POLICY = `version: 1
environments: [${E}]
secrets:
  ${S}:
    kind: random
    cadence: 365d
    grace: 1h
    config: { bytes: 32, encoding: base64url }
`;
const actor: Actor = {
  operator: 'reader',
  requestId: '00000000-0000-4000-8000-00000000beef',
  method: 'api',
};

/** A change signal that is up but never fires: what a read sees before NOTIFY arrives. */
const silent: ChangeSource = {
  watch: async () => ({
    liveStates: () => [],
    versionKind: () => undefined,
    tokenStates: () => [],
    check: async () => undefined,
    close: () => undefined,
  }),
};

async function readRows(store: Store) {
  const rows = await store.db
    .selectFrom('audit_events')
    .select(['entry'])
    .where('action', '=', 'read.get')
    .orderBy('seq')
    .execute();
  return rows.map(
    (r) => JSON.parse(r.entry) as { requestId: string; details: { versionId: string } },
  );
}

describe.skipIf(!postgres.available)('the PostgreSQL read path, in process', () => {
  let project: TestProject;
  let drop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const db = await createScratchDatabase('reads');
    drop = () => db.drop();
    project = await createProject({
      policy: POLICY,
      start: Date.now(),
      env: { ROTOR_STORE_URL: db.url },
    });
    expect((await project.cli(['apply'])).code).toBe(0);
  }, 120_000);
  afterAll(() => drop(), 60_000);

  test('a version emergency-rotated away is never handed out, even before the notification', async () => {
    const rotor = project.rotor();
    try {
      const engine = createRotationEngine({ rotor });
      const first = await engine.rotate(actor, { secret: S, method: 'manual' });
      expect(first.ok).toBe(true);
      const store = await rotor.store();
      const path = createSecretReadPath(rotor, { ...store, changes: silent });
      try {
        // Once the (silent) watch is up, a read fills the cache that the next one uses.
        await new Promise((r) => setTimeout(r, 10));
        const before = await path.read(actor, S, E, 'current');
        expect(before.versionId).toBe(first.results[0]!.versionId);
        const emergency = await engine.rotate(actor, {
          secret: S,
          method: 'manual',
          emergency: true,
          reason: 'leaked in a test',
        });
        expect(emergency.ok).toBe(true);
        const newId = emergency.results[0]!.versionId!;
        // The cache still says the old version is current; the audit commit's check catches it.
        const after = await path.read(
          { ...actor, requestId: `${actor.requestId.slice(0, -4)}0001` },
          S,
          E,
          'current',
        );
        expect(after.versionId).toBe(newId);
        expect(after.value).not.toBe(before.value);
        const rows = await readRows(store);
        expect(rows.map((r) => r.details.versionId).slice(-2)).toEqual([before.versionId, newId]);
        expect((await verifyAuditChain(store)).ok).toBe(true);
      } finally {
        path.close();
      }
    } finally {
      await rotor.close();
    }
  }, 120_000);

  test('concurrent reads share audit commits, each recorded once, chain intact', async () => {
    const rotor = project.rotor();
    try {
      const store = await rotor.store();
      const path = createSecretReadPath(rotor, store);
      try {
        const start = (await readRows(store)).length;
        const ids = Array.from(
          { length: 40 },
          (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        );
        // A normal rotation first, so half the reads take the in-grace previous version.
        const engine = createRotationEngine({ rotor });
        expect((await engine.rotate(actor, { secret: S, method: 'manual' })).ok).toBe(true);
        const got = await Promise.all(
          ids.map((requestId, i) =>
            path.read({ ...actor, requestId }, S, E, i % 2 ? 'previous' : 'current'),
          ),
        );
        expect(new Set(got.map((g) => g.stage))).toEqual(new Set(['current', 'previous']));
        const rows = (await readRows(store)).slice(start);
        // Recorded in the order the values were handed out (lookups finish in any order).
        expect(rows.map((r) => r.requestId).sort()).toEqual(ids);
        expect((await verifyAuditChain(store)).ok).toBe(true);
      } finally {
        path.close();
      }
    } finally {
      await rotor.close();
    }
  }, 120_000);

  test('a token revoked on another connection is refused once the notification arrives', async () => {
    const rotor = project.rotor();
    try {
      const store = await rotor.store();
      const { token } = await createApiToken(store, rotor.clock, actor, {
        name: 'revoke-me',
        role: 'app',
        secrets: ['*'],
        environments: ['*'],
      });
      const id = parseToken(token)!.id;
      const reads = openPostgresFastReads(store);
      try {
        await waitFor('the watch to cache a token row', async () => {
          await reads.token(id);
          return (await reads.token(id))?.revoked_at === null;
        });
        const other = project.rotor();
        try {
          await revokeApiToken(await other.store(), other.clock, actor, { id, reason: 'test' });
        } finally {
          await other.close();
        }
        await waitFor('the revocation to reach the cache', async () => {
          const row = await reads.token(id);
          return row !== undefined && row.revoked_at !== null;
        });
      } finally {
        await reads.close();
      }
    } finally {
      await rotor.close();
    }
  }, 120_000);
});

describe.skipIf(!postgres.available)(
  'two rotor serve instances reading one PostgreSQL store',
  () => {
    let t: TwoInstances | undefined;
    let a: ServeProcess;
    let b: ServeProcess;
    let admin: string;
    let app: string;

    beforeAll(async () => {
      t = await startTwoInstances({ database: 'reads2', policy: POLICY, rotate: S });
      ({ a, b, admin, app } = t);
    }, 180_000);

    afterAll(async () => {
      await t?.stop();
    }, 60_000);

    const read = (i: ServeProcess, token = app) =>
      fetch(`${i.base}/v1/secrets/${S}/value?env=${E}`, {
        headers: { authorization: `Bearer ${token}` },
      });

    test('after an emergency through A, B serves only the new version', async () => {
      const old = (await (await read(b)).json()) as { versionId: string };
      const res = await fetch(`${a.base}/v1/secrets/${S}/emergency`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ environment: E, reason: 'leaked in a test' }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const { results } = (await res.json()) as { results: { versionId: string }[] };
      const newId = results[0]!.versionId;
      expect(newId).not.toBe(old.versionId);
      // The audit commit re-checks the version, so B never hands out the old one after the commit.
      for (let i = 0; i < 10; i++) {
        const got = (await (await read(b)).json()) as { versionId: string };
        expect(got.versionId).toBe(newId);
      }
      const previous = await fetch(`${b.base}/v1/secrets/${S}/value?env=${E}&stage=previous`, {
        headers: { authorization: `Bearer ${app}` },
      });
      expect(previous.status).toBe(404);
    }, 120_000);

    test('a token revoked through A is refused by B once notified, and stays refused', async () => {
      const made = await fetch(`${a.base}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'short-lived',
          role: 'app',
          secrets: ['*'],
          environments: ['*'],
        }),
      });
      expect(made.status, await made.clone().text()).toBeLessThan(300);
      const { token } = (await made.json()) as { token: string };
      expect((await read(b, token)).status).toBe(200);
      const id = parseToken(token)!.id;
      const revoked = await fetch(`${a.base}/v1/tokens/${id}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'test' }),
      });
      expect(revoked.status, await revoked.clone().text()).toBe(200);
      await waitFor(
        'B to refuse the revoked token',
        async () => (await read(b, token)).status === 401,
      );
      for (let i = 0; i < 5; i++) {
        const res = await read(b, token);
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
          'ERR_ROTOR_API_TOKEN_REVOKED',
        );
      }
    }, 120_000);
  },
);
