// The pure parts of rotor/client, apart from a server: what a snapshot reports as changed, what a
// held previous value needs after an announcement, the spread of fetches, the stream query and
// the checked options.
import { describe, expect, it } from 'vitest';
import { resolveClientOptions } from '../src/sdk/client/client-config.js';
import { streamQuery } from '../src/sdk/client/event-stream.js';
import { heldVersions } from '../src/sdk/client/heartbeat.js';
import { previousStep } from '../src/sdk/client/live-apply.js';
import { snapshotChange, spreadDelay } from '../src/sdk/client/stream-events.js';
import type { HeldValue, LiveState } from '../src/sdk/client/client-types.js';

const live = (over: Partial<LiveState> = {}): LiveState => ({
  secret: 'API_KEY',
  environment: 'production',
  versionId: 'v2',
  previousVersionId: 'v1',
  retireAt: '2026-01-01T00:00:00.000Z',
  ...over,
});
const held = (versionId: string): HeldValue => ({
  secret: 'API_KEY',
  environment: 'production',
  versionId,
  value: 'x',
  retireAt: null,
});

describe('snapshotChange', () => {
  it('reports nothing for a secret the client neither holds nor heard of', () => {
    expect(snapshotChange(undefined, undefined, { live: live(), receivedAt: 1 })).toBeUndefined();
  });

  it('reports nothing when the snapshot repeats what was announced and held', () => {
    expect(snapshotChange(live(), 'v2', { live: live(), receivedAt: 1 })).toBeUndefined();
  });

  it('reports a held version the snapshot replaced, naming it', () => {
    expect(snapshotChange(undefined, 'v1', { live: live(), receivedAt: 7 })).toEqual({
      ...live(),
      change: 'snapshot',
      replacedVersionId: 'v1',
      receivedAt: 7,
    });
  });

  it('reports a previous version that went, replacing the version last announced', () => {
    const before = live();
    const after = live({ previousVersionId: null, retireAt: null });
    expect(snapshotChange(before, 'v2', { live: after, receivedAt: 3 })).toMatchObject({
      change: 'snapshot',
      previousVersionId: null,
      replacedVersionId: 'v2',
    });
  });
});

describe('previousStep', () => {
  it('leaves a previous value never asked for alone', () => {
    expect(previousStep(undefined, live())).toBe('keep');
  });

  it('clears a held previous value once none is in grace', () => {
    expect(previousStep(held('v1'), live({ previousVersionId: null }))).toBe('clear');
  });

  it('loads a previous version other than the one held', () => {
    expect(previousStep(held('v0'), live())).toBe('load');
    expect(previousStep(null, live())).toBe('load');
  });

  it('notes a new grace window of the same previous version', () => {
    expect(previousStep(held('v1'), live())).toBe('retire-at');
    expect(previousStep(held('v1'), live({ retireAt: null }))).toBe('keep');
  });
});

describe('spreadDelay', () => {
  it('spreads a graceful rotation over 0..spreadMs and applies an emergency at once', () => {
    expect(spreadDelay(live(), 250, () => 0.5)).toBe(125);
    expect(spreadDelay(live({ previousVersionId: null }), 250, () => 0.5)).toBe(0);
    expect(spreadDelay(live(), 0, () => 0.5)).toBe(0);
  });
});

describe('streamQuery', () => {
  it('names the watched secrets and environments, or nothing', () => {
    expect(streamQuery(undefined)).toBe('');
    expect(streamQuery({ secrets: [], environments: [] })).toBe('');
    expect(streamQuery({ secrets: ['JWT_*', 'DB'], environments: ['prod'] })).toBe(
      '?secrets=JWT_*%2CDB&env=prod',
    );
  });
});

describe('heldVersions', () => {
  it('lists the current version of each held secret, skipping entries still loading', () => {
    const cache = new Map([
      ['a', { current: held('v2') }],
      ['b', {}],
    ]);
    expect(heldVersions({ cache })).toEqual([
      { secret: 'API_KEY', environment: 'production', version: 'v2' },
    ]);
  });
});

describe('resolveClientOptions', () => {
  it('fills in the defaults and trims the server address', () => {
    const config = resolveClientOptions({ url: 'http://127.0.0.1:7700//', token: 't' });
    expect(config).toMatchObject({
      base: 'http://127.0.0.1:7700',
      headers: { authorization: 'Bearer t' },
      app: 'app',
      heartbeatMs: 15_000,
      refreshMs: 300_000,
      reconnect: { minMs: 250, maxMs: 15_000 },
      idleTimeoutMs: 45_000,
      spreadMs: 250,
      stream: true,
    });
    expect(config.consumerId).toMatch(/^app@.+:\d+:[0-9a-f]{6}$/);
  });

  it('refuses a heartbeat under a second with ERR_ROTOR_CLIENT_OPTIONS_INVALID', () => {
    expect(() => resolveClientOptions({ url: 'http://x', token: 't', heartbeatMs: 500 })).toThrow(
      expect.objectContaining({ code: 'ERR_ROTOR_CLIENT_OPTIONS_INVALID' }),
    );
    expect(() => resolveClientOptions({ url: 'http://x', token: 't', heartbeatMs: 500 })).toThrow(
      'heartbeatMs must be at least 1000',
    );
  });
});
