// The store's optional capabilities (fast reads, change signal) and the server's portable
// fallbacks when a store offers none: both paths hand out the same values, write the same
// audit rows through core, and see the same changes.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { verifyAuditChain } from '../src/core/audit/audit-verify.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import type { Store } from '../src/core/store/open-store.js';
import { pollingChangeSource } from '../src/core/store/polling-changes.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { revokeApiToken } from '../src/core/tokens/revoke-token.js';
import { createChangeFeed } from '../src/server/events/change-feed.js';
import type { SequencedEvent } from '../src/server/events/event-types.js';
import { createSecretReadPath } from '../src/server/read-path/secret-read-path.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';

const S = 'METRICS_AUTH_TOKEN';
const E = 'production';
const actor: Actor = {
  operator: 'reader',
  requestId: '00000000-0000-4000-8000-00000000c0de',
  method: 'api',
};

const projects: TestProject[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const p of projects.splice(0)) rmSync(p.dir, { recursive: true, force: true });
});

async function rotated() {
  const p = await createProject();
  projects.push(p);
  const rotor = p.rotor();
  closers.push(() => rotor.close());
  const engine = createRotationEngine({ rotor });
  const first = await engine.rotate(actor, { secret: S, environments: [E], method: 'manual' });
  const store = await rotor.store();
  return { p, rotor, engine, store, versionId: first.results[0]!.versionId! };
}

/** The store as a dialect with no capabilities would open it. */
function portable(store: Store): Store {
  return { ...store, fastReads: undefined, changes: undefined, auditReader: undefined };
}

async function readRows(store: Store) {
  const rows = await store.db
    .selectFrom('audit_events')
    .select(['secret', 'environment', 'action', 'entry'])
    .where('action', '=', 'read.get')
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({ ...r, entry: JSON.parse(r.entry) as Record<string, unknown> }));
}

describe('the read path over the store capability and over portable queries', () => {
  it('the SQLite store offers fast reads and a change signal', async () => {
    const { store } = await rotated();
    expect(store.fastReads).toEqual({ open: expect.any(Function) });
    expect(store.changes).toEqual({ watch: expect.any(Function) });
  });

  for (const variant of ['fast', 'portable'] as const) {
    it(`${variant}: hands out the current value and records one read.get row before it, chain intact`, async () => {
      const { rotor, store, versionId } = await rotated();
      const path = createSecretReadPath(rotor, variant === 'fast' ? store : portable(store));
      try {
        const got = await path.read(actor, S, E, 'current');
        expect(got).toMatchObject({ secret: S, environment: E, stage: 'current', versionId });
        expect(got.value.length).toBeGreaterThanOrEqual(32);
        expect(path.findToken === undefined).toBe(variant === 'portable');
        const rows = await readRows(store);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ secret: S, environment: E, action: 'read.get' });
        expect(rows[0]!.entry).toMatchObject({
          operator: 'reader',
          method: 'api',
          outcome: 'success',
          requestId: actor.requestId,
          details: { versionId, stage: 'current', count: 1 },
        });
        expect(JSON.stringify(rows[0]!.entry)).not.toContain(got.value);
        expect((await verifyAuditChain(store)).ok).toBe(true);
      } finally {
        path.close();
      }
    });
  }

  it('fast and portable reads of one version give the same value', async () => {
    const { rotor, store } = await rotated();
    const fast = createSecretReadPath(rotor, store);
    const slow = createSecretReadPath(rotor, portable(store));
    try {
      const a = await fast.read(actor, S, E, 'current');
      const b = await slow.read(actor, S, E, 'current');
      expect(a).toEqual(b);
    } finally {
      fast.close();
      slow.close();
    }
  });

  it('concurrent fast reads commit together, each recorded once, in arrival order, chain intact', async () => {
    const { rotor, store } = await rotated();
    const path = createSecretReadPath(rotor, store);
    try {
      const ids = Array.from(
        { length: 25 },
        (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      );
      await Promise.all(
        ids.map((requestId) => path.read({ ...actor, requestId }, S, E, 'current')),
      );
      const rows = await readRows(store);
      expect(rows.map((r) => r.entry.requestId)).toEqual(ids);
      expect((await verifyAuditChain(store)).ok).toBe(true);
    } finally {
      path.close();
    }
  });

  it('a fast read sees a rotation committed on another connection at once', async () => {
    const { p, rotor, engine, store, versionId } = await rotated();
    const path = createSecretReadPath(rotor, store);
    try {
      expect((await path.read(actor, S, E, 'current')).versionId).toBe(versionId);
      p.clock.advance(DAY);
      const next = await engine.rotate(actor, { secret: S, environments: [E], method: 'manual' });
      const newId = next.results[0]!.versionId!;
      expect(newId).not.toBe(versionId);
      expect((await path.read(actor, S, E, 'current')).versionId).toBe(newId);
      expect((await path.read(actor, S, E, 'previous')).versionId).toBe(versionId);
    } finally {
      path.close();
    }
  });

  it('a read of a secret with no live version fails with its code and records nothing', async () => {
    const { rotor, store } = await rotated();
    const path = createSecretReadPath(rotor, store);
    try {
      await expect(path.read(actor, S, E, 'previous')).rejects.toMatchObject({
        code: 'ERR_ROTOR_VERSION_NOT_FOUND',
      });
      expect(await readRows(store)).toEqual([]);
    } finally {
      path.close();
    }
  });
});

describe('the change feed over the store signal and over portable polling', () => {
  for (const variant of ['signal', 'polling'] as const) {
    it(`${variant}: a rotation becomes one event; a revoked token reads as revoked before it`, async () => {
      const { p, engine, store, versionId } = await rotated();
      const source = variant === 'signal' ? store.changes! : pollingChangeSource(portable(store));
      // A long poll interval: the test looks for changes itself, with feed.poll().
      const feed = createChangeFeed({ source, pollMs: 60_000 });
      closers.push(() => Promise.resolve(feed.close()));
      await feed.start();
      expect([...feed.states()]).toContainEqual(
        expect.objectContaining({ secret: S, environment: E, versionId }),
      );
      const events: SequencedEvent[] = [];
      feed.subscribe((batch) => events.push(...batch));

      const { token, info } = await createApiToken(store, p.clock, actor, {
        name: 'feed-app',
        role: 'app',
        secrets: ['*'],
        environments: ['*'],
      });
      expect(token).toMatch(/^rtr_/);
      expect(await feed.tokenStates([info.id, 'ffffffffffffffff'])).toEqual([
        { id: info.id, revoked_at: null, expires_at: null },
        { id: 'ffffffffffffffff', revoked_at: 0, expires_at: null },
      ]);

      p.clock.advance(DAY);
      const next = await engine.rotate(actor, { secret: S, environments: [E], method: 'manual' });
      await revokeApiToken(store, p.clock, actor, { id: info.id, reason: 'test' });
      const seenAtChange: Array<number | null> = [];
      feed.onStoreChange(async () => {
        seenAtChange.push((await feed.tokenStates([info.id]))[0]!.revoked_at);
      });
      await feed.poll();

      expect(seenAtChange).toEqual([p.clock.now()]);
      expect(events).toEqual([
        {
          seq: 1,
          event: expect.objectContaining({
            secret: S,
            environment: E,
            change: 'rotation',
            versionId: next.results[0]!.versionId,
            previousVersionId: versionId,
            replacedVersionId: versionId,
          }),
        },
      ]);
      expect(feed.since(0)).toEqual(events);
      await feed.poll();
      expect(events).toHaveLength(1);
    });
  }

  it('a feed closed before it started reads nothing and keeps no watch open', async () => {
    const { store } = await rotated();
    const feed = createChangeFeed({ source: store.changes!, pollMs: 60_000 });
    feed.close();
    await feed.start();
    expect([...feed.states()]).toEqual([]);
    expect(await feed.tokenStates(['ffffffffffffffff'])).toEqual([]);
  });
});
