// The database kinds are registered lazily (src/rotators/lazy-rotator.ts): each entry must be
// the descriptor it loads in everything the engine and the policy look at, and must not load
// its driver until a hook runs.
import { describe, expect, it } from 'vitest';
import type { AnyRotator } from '../src/core/rotator/rotator-contract.js';
import { mysqlRotator } from '../src/rotators/mysql.js';
import { postgresRotator } from '../src/rotators/postgres.js';
import { mysqlEntry, postgresEntry, ROTATORS } from '../src/rotators/registry.js';

const hooksOf = (d: object) =>
  Object.entries(d)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .sort();

describe('lazily registered rotators', () => {
  it.each([
    ['postgres', postgresEntry as AnyRotator, postgresRotator as AnyRotator],
    ['mysql', mysqlEntry as AnyRotator, mysqlRotator as AnyRotator],
  ] as const)('%s: the registry entry matches the descriptor it loads', (kind, entry, real) => {
    expect(ROTATORS).toContain(entry);
    expect(entry.kind).toBe(kind);
    expect(entry.kind).toBe(real.kind);
    expect(entry.summary).toBe(real.summary);
    expect(entry.source).toBe(real.source);
    expect(entry.configSchema).toBe(real.configSchema);
    expect(entry.allowsBlank).toBe(real.allowsBlank);
    expect(hooksOf(entry)).toEqual(hooksOf(real));
  });

  it('forwards a hook to the loaded descriptor, errors included', async () => {
    const ctx = {
      secret: 'DATABASE_URL',
      environment: 'staging',
      versionId: 'v1',
      config: {},
      clock: { now: () => 0 },
      emergency: false,
    };
    // An empty config makes the real rotator fail on its own checks: the same error both ways.
    const viaEntry = await mysqlEntry.create(ctx as never).catch((e: unknown) => e);
    const direct = await mysqlRotator.create(ctx as never).catch((e: unknown) => e);
    expect(viaEntry).toBeInstanceOf(Error);
    expect((viaEntry as Error).message).toBe((direct as Error).message);
  });
});
