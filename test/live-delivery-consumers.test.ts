// Retire waits for live consumers: core behaviour of src/core/consumers with the engine and a
// manual clock (no server). The HTTP and SSE side is in live-delivery.test.ts.
import { describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { listConsumers, pruneConsumers, recordHeartbeats } from '../src/core/consumers/index.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createSseParser } from '../src/sdk/client/sse-parser.js';
import { createProject, DAY } from './helpers/project.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000005',
  method: 'manual',
};
const S = 'METRICS_AUTH_TOKEN';
const E = 'production';

async function rotatedTwice() {
  const p = await createProject();
  const rotor = p.rotor();
  const engine = createRotationEngine({ rotor });
  const first = await engine.rotate(actor, { secret: S, environments: [E], method: 'manual' });
  p.clock.advance(DAY);
  const second = await engine.rotate(actor, { secret: S, environments: [E], method: 'manual' });
  const store = await rotor.store();
  return {
    p,
    rotor,
    engine,
    store,
    oldId: first.results[0]!.versionId!,
    newId: second.results[0]!.versionId!,
  };
}

async function audited(store: Awaited<ReturnType<typeof rotatedTwice>>['store'], action: string) {
  const rows = await store.db
    .selectFrom('audit_events')
    .select('entry')
    .where('action', '=', action)
    .execute();
  return rows.map((r) => JSON.parse(r.entry) as { notes?: string });
}

describe('retire waits for live consumers', () => {
  it('postpones the retirement while a live consumer holds the old version, naming it, and retires after its ack', async () => {
    const { p, rotor, engine, store, oldId, newId } = await rotatedTwice();
    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        intervalMs: 10_000,
        holds: [{ secret: S, environment: E, version: oldId }],
      },
    ]);
    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-2',
        app: 'billing',
        intervalMs: 10_000,
        holds: [{ secret: S, environment: E, version: newId }],
      },
    ]);
    p.clock.advance(DAY + 1);
    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        intervalMs: 10_000,
        holds: [{ secret: S, environment: E, version: oldId }],
      },
    ]);
    expect(await engine.retire(actor, { secret: S })).toEqual([
      {
        secret: S,
        environment: E,
        versionId: oldId,
        early: false,
        postponed: true,
        reason: expect.stringContaining('billing/web-1'),
      },
    ]);
    const postponed = await audited(store, 'retire.postponed');
    expect(postponed.at(-1)!.notes).toContain('billing/web-1');
    expect(postponed.at(-1)!.notes).not.toContain('web-2');

    const listed = await listConsumers(store.db, { secret: S, environment: E }, p.clock.now());
    expect(listed.find((c) => c.id === 'web-1')!.holds[0]).toMatchObject({
      version: oldId,
      currentVersion: newId,
      behind: true,
    });

    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        intervalMs: 10_000,
        holds: [{ secret: S, environment: E, version: newId }],
      },
    ]);
    expect(await engine.retire(actor, { secret: S })).toEqual([
      { secret: S, environment: E, versionId: oldId, early: false },
    ]);
    await rotor.close();
  });

  it('does not wait for a consumer whose heartbeat lapsed (3 intervals)', async () => {
    const { p, rotor, engine, store, oldId } = await rotatedTwice();
    p.clock.advance(DAY + 1);
    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        intervalMs: 10_000,
        holds: [{ secret: S, environment: E, version: oldId }],
      },
    ]);
    p.clock.advance(30_000);
    expect((await engine.retire(actor, { secret: S }))[0]!.postponed).toBe(true);
    p.clock.advance(1);
    expect((await engine.retire(actor, { secret: S }))[0]!.postponed).toBeUndefined();
    await rotor.close();
  });

  it('--force and emergencies do not wait', async () => {
    const { p, rotor, engine, store, oldId, newId } = await rotatedTwice();
    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        holds: [{ secret: S, environment: E, version: oldId }],
      },
    ]);
    expect(
      (await engine.retire(actor, { secret: S, now: true, reason: 'test', force: true }))[0],
    ).toEqual({ secret: S, environment: E, versionId: oldId, early: true });

    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        holds: [{ secret: S, environment: E, version: newId }],
      },
    ]);
    p.clock.advance(DAY);
    await engine.rotate(actor, { secret: S, environments: [E], method: 'manual' });
    const emergency = await engine.rotate(actor, {
      secret: S,
      environments: [E],
      method: 'emergency',
      emergency: true,
      reason: 'leak',
    });
    expect(emergency.ok).toBe(true);
    const rows = await store.db
      .selectFrom('versions')
      .select(['id', 'stage'])
      .where('secret', '=', S)
      .where('environment', '=', E)
      .where('stage', '=', 'previous')
      .execute();
    expect(rows).toEqual([]);
    await rotor.close();
  });
});

describe('consumer records', () => {
  it('a heartbeat replaces what the consumer reported before, and long-gone consumers are forgotten', async () => {
    const { p, rotor, store, oldId, newId } = await rotatedTwice();
    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        holds: [
          { secret: S, environment: E, version: oldId },
          { secret: S, environment: 'staging', version: oldId },
        ],
      },
    ]);
    await recordHeartbeats(store, p.clock, [
      {
        consumerId: 'web-1',
        app: 'billing',
        holds: [{ secret: S, environment: E, version: newId }],
      },
    ]);
    const [web1] = await listConsumers(store.db, {}, p.clock.now());
    expect(web1!.holds.map((h) => [h.environment, h.version])).toEqual([[E, newId]]);
    p.clock.advance(8 * DAY);
    await recordHeartbeats(store, p.clock, [{ consumerId: 'web-2', app: 'billing', holds: [] }]);
    expect(await pruneConsumers(store, p.clock, 7 * DAY)).toBe(1);
    expect(await store.db.selectFrom('consumer_versions').selectAll().execute()).toEqual([]);
    expect(
      (await store.db.selectFrom('consumers').select('id').execute()).map((r) => r.id),
    ).toEqual(['web-2']);
    await rotor.close();
  });
});

describe('SSE parsing (rotor/client)', () => {
  it('splits events on blank lines across chunks, joins data lines, ignores comments, keeps the last id', () => {
    const parser = createSseParser('start');
    expect(parser.push(': heartbeat\n\nretry: 1500\n\nid: e.1\nevent: rot')).toEqual([]);
    expect(parser.push('ation\ndata: {"a":\ndata: 1}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([
      { event: 'rotation', data: '{"a":\n1}', lastEventId: 'e.1' },
    ]);
    expect(parser.retry()).toBe(1500);
    expect(parser.push('data: x\n\n')).toEqual([
      { event: 'message', data: 'x', lastEventId: 'e.1' },
    ]);
  });

  it('accepts CRLF and CR line ends, also split between chunks', () => {
    const parser = createSseParser();
    expect(parser.push('event: a\r\ndata: 1\r')).toEqual([]);
    expect(parser.push('\n\r\nevent: b\rdata:2\r\r')).toEqual([
      { event: 'a', data: '1', lastEventId: '' },
      { event: 'b', data: '2', lastEventId: '' },
    ]);
  });
});
