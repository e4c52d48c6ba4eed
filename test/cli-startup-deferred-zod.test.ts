// The CLI bundle's deferred `z` (src/cli/lazy/deferred-namespace.ts) must build exactly the
// schemas real zod builds, and load zod only when a schema is used.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deferredNamespace, materialize } from '../src/cli/lazy/deferred-namespace.js';

function counted() {
  let loads = 0;
  const dz = deferredNamespace(() => {
    loads++;
    return z;
  });
  return { dz, loads: () => loads };
}

/** The same schema built with a given `z`: most builders the sources use, nested. */
function build(zz: typeof z) {
  const duration = zz
    .string()
    .describe('a duration')
    .superRefine((text, ctx) => {
      if (!/^\d+[dhm]$/.test(text)) ctx.addIssue({ code: 'custom', message: 'bad duration' });
    });
  const shared = { owner: zz.string().max(5).optional(), tags: zz.array(zz.string()).min(1) };
  return zz.strictObject({
    version: zz.literal(1),
    kind: zz.enum(['a', 'b']).describe('the kind'),
    cadence: zz.union([duration, zz.strictObject({ target: duration, max: duration.optional() })]),
    retries: zz.number().int().min(0).max(3).default(1),
    map: zz.record(zz.string().regex(/^[A-Z]+$/, 'upper case'), zz.unknown()).optional(),
    url: zz.url().optional(),
    on: zz.boolean().catch(false),
    step: zz.discriminatedUnion('type', [
      zz.strictObject({ type: zz.literal('x'), n: zz.number() }),
      zz.strictObject({ type: zz.literal('y'), s: zz.string().trim().toLowerCase() }),
    ]),
    ...shared,
  });
}

const INPUTS: unknown[] = [
  { version: 1, kind: 'a', cadence: '3d', step: { type: 'x', n: 1 }, tags: ['t'] },
  { version: 1, kind: 'b', cadence: { target: '1h' }, step: { type: 'y', s: ' AB ' }, tags: ['t'] },
  { version: 2, kind: 'c', cadence: 'soon', retries: 9, map: { low: 1 }, tags: [], extra: 1 },
  {
    version: 1,
    kind: 'a',
    cadence: { target: '1d', max: 'x' },
    step: { type: 'z' },
    owner: 'toolong',
  },
  'not an object',
];

describe('the deferred zod namespace', () => {
  it('loads zod only when a schema is used, not when schemas are built', () => {
    const { dz, loads } = counted();
    const schema = build(dz);
    expect(loads()).toBe(0);
    expect(schema.safeParse(INPUTS[0]).success).toBe(true);
    expect(loads()).toBe(1);
    build(dz).safeParse(INPUTS[1]);
    expect(loads()).toBe(1);
  });

  it('parses and reports issues exactly as real zod does', () => {
    const real = build(z);
    const deferred = build(counted().dz);
    for (const input of INPUTS) {
      const a = real.safeParse(input);
      const b = deferred.safeParse(input);
      expect(b.success).toBe(a.success);
      expect(b.data).toEqual(a.data);
      expect(b.error?.issues).toEqual(a.error?.issues);
    }
  });

  it('gives the same JSON Schema, descriptions included, and real schemas inside', () => {
    const { dz } = counted();
    const deferred = build(dz);
    expect(dz.toJSONSchema(deferred)).toEqual(z.toJSONSchema(build(z)));
    expect(z.toJSONSchema(materialize(deferred))).toEqual(z.toJSONSchema(build(z)));
    expect(deferred.description).toBeUndefined();
    expect(deferred.shape.kind.description).toBe('the kind');
    expect(deferred).toBeInstanceOf(z.ZodObject);
    expect(materialize(deferred).shape.cadence).toBeInstanceOf(z.ZodUnion);
  });
});
