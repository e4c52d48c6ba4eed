// Turns a validated Policy into JSON text and back, exactly: Maps, undefined fields, key order
// and which objects are frozen all survive. Anything else (a function, a class instance, a
// non-finite number) makes the policy uncacheable rather than changed; decoding refuses any
// node it does not know, so a damaged entry is never half-trusted.
import type { Policy } from './policy.js';

/** Thrown by `encodeValue` for a value JSON cannot carry exactly; the policy is then not cached. */
export class UncacheableValue extends Error {}

type Node =
  | null
  | boolean
  | number
  | string
  | { u: 1 }
  | { a: Node[]; f: boolean }
  | { m: Array<[Node, Node]>; f: boolean }
  | { o: Record<string, Node>; f: boolean };

const MAX_DEPTH = 64;

function encodeObject(value: object, depth: number): Node {
  const f = Object.isFrozen(value);
  if (!f && !Object.isExtensible(value)) throw new UncacheableValue('sealed object');
  if (Array.isArray(value)) {
    if (Object.keys(value).length !== value.length) throw new UncacheableValue('sparse array');
    return { a: value.map((item: unknown) => encodeValue(item, depth + 1)), f };
  }
  if (value instanceof Map)
    return {
      m: [...value].map(([k, v]) => [encodeValue(k, depth + 1), encodeValue(v, depth + 1)]),
      f,
    };
  if (Object.getPrototypeOf(value) !== Object.prototype) throw new UncacheableValue('instance');
  const keys = Reflect.ownKeys(value);
  const o: Record<string, Node> = {};
  for (const key of keys) {
    const d = Object.getOwnPropertyDescriptor(value, key)!;
    if (typeof key !== 'string' || !d.enumerable || !('value' in d) || key === '__proto__')
      throw new UncacheableValue('unusual property');
    o[key] = encodeValue(d.value, depth + 1);
  }
  return { o, f };
}

export function encodeValue(value: unknown, depth = 0): Node {
  if (depth > MAX_DEPTH) throw new UncacheableValue('too deep');
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (value === undefined) return { u: 1 };
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Object.is(value, -0)) throw new UncacheableValue('number');
    return value;
  }
  if (typeof value === 'object') return encodeObject(value, depth);
  throw new UncacheableValue(typeof value);
}

class CorruptEntry extends Error {}

function decodeNode(node: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CorruptEntry('too deep');
  if (node === null || typeof node === 'boolean' || typeof node === 'string') return node;
  if (typeof node === 'number') {
    if (!Number.isFinite(node)) throw new CorruptEntry('number');
    return node;
  }
  if (typeof node !== 'object' || Array.isArray(node)) throw new CorruptEntry('node');
  const n = node as Record<string, unknown>;
  const keys = Object.keys(n).sort().join(',');
  if (keys === 'u' && n.u === 1) return undefined;
  if (typeof n.f !== 'boolean') throw new CorruptEntry('node');
  let out: object;
  if (keys === 'a,f' && Array.isArray(n.a)) out = n.a.map((item) => decodeNode(item, depth + 1));
  else if (keys === 'f,m' && Array.isArray(n.m)) {
    out = new Map(
      n.m.map((pair) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new CorruptEntry('map entry');
        return [decodeNode(pair[0], depth + 1), decodeNode(pair[1], depth + 1)] as const;
      }),
    );
  } else if (keys === 'f,o' && n.o !== null && typeof n.o === 'object' && !Array.isArray(n.o)) {
    const o: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(n.o)) {
      if (key === '__proto__') throw new CorruptEntry('key');
      o[key] = decodeNode(item, depth + 1);
    }
    out = o;
  } else throw new CorruptEntry('node');
  return n.f ? Object.freeze(out) : out;
}

/** The shape every Policy has; a decoded value without it is not a policy. */
function assertPolicyShape(value: unknown, kinds: ReadonlySet<string>): asserts value is Policy {
  const p = value as Partial<Policy> | null;
  const strings = (xs: unknown) => Array.isArray(xs) && xs.every((x) => typeof x === 'string');
  if (!p || typeof p !== 'object' || !strings(p.environments) || !(p.secrets instanceof Map))
    throw new CorruptEntry('policy');
  for (const [name, spec] of p.secrets) {
    const s = spec as Partial<Policy['secrets'] extends ReadonlyMap<string, infer S> ? S : never>;
    if (
      !s ||
      s.name !== name ||
      typeof s.kind !== 'string' ||
      !kinds.has(s.kind) ||
      !strings(s.environments) ||
      typeof s.graceMs !== 'number' ||
      typeof s.cadence?.targetMs !== 'number' ||
      !Array.isArray(s.stages)
    )
      throw new CorruptEntry('secret');
  }
}

/** The policy as JSON text, or undefined when it holds a value JSON cannot carry exactly. */
export function encodePolicy(policy: Policy): string | undefined {
  try {
    return JSON.stringify(encodeValue(policy));
  } catch (error) {
    if (error instanceof UncacheableValue) return undefined;
    throw error;
  }
}

/** The policy `encodePolicy` wrote, or undefined for anything else (the caller parses rotor.yaml). */
export function decodePolicy(text: string, kinds: ReadonlySet<string>): Policy | undefined {
  try {
    const value = decodeNode(JSON.parse(text), 0);
    assertPolicyShape(value, kinds);
    return value;
  } catch {
    return undefined;
  }
}
