// A stand-in for zod's `z` in the CLI bundle (scripts/build.mjs): the schemas modules build when
// they load (rotator configs, rotor.yaml) are recorded as recipes, and zod itself loads the first
// time a schema is used (parsed, converted, inspected). A command that reads its policy from the
// cache never loads zod. Only calls known to return a new schema are recorded; anything else
// (parse, safeParse, properties, `z.toJSONSchema`) builds the real schema first, so a call this
// file does not know is slower, never wrong.

/** `z` functions that build a schema. */
const NAMESPACE_BUILDERS = new Set([
  'any',
  'array',
  'bigint',
  'boolean',
  'custom',
  'date',
  'discriminatedUnion',
  'email',
  'enum',
  'int',
  'intersection',
  'lazy',
  'literal',
  'looseObject',
  'map',
  'never',
  'null',
  'nullable',
  'number',
  'object',
  'optional',
  'record',
  'set',
  'strictObject',
  'string',
  'tuple',
  'undefined',
  'union',
  'unknown',
  'url',
  'uuid',
]);

/** Schema methods that return a new schema (never `meta`, whose no-argument form reads). */
const SCHEMA_BUILDERS = new Set([
  'and',
  'array',
  'catch',
  'catchall',
  'default',
  'describe',
  'email',
  'endsWith',
  'extend',
  'gt',
  'gte',
  'includes',
  'int',
  'length',
  'lowercase',
  'lt',
  'lte',
  'max',
  'min',
  'multipleOf',
  'negative',
  'nonempty',
  'nonnegative',
  'nonoptional',
  'nonpositive',
  'nullable',
  'nullish',
  'omit',
  'optional',
  'or',
  'partial',
  'passthrough',
  'pick',
  'pipe',
  'positive',
  'prefault',
  'readonly',
  'refine',
  'regex',
  'required',
  'startsWith',
  'strict',
  'strip',
  'superRefine',
  'toLowerCase',
  'toUpperCase',
  'transform',
  'trim',
  'uppercase',
  'url',
  'uuid',
]);

/** Schema methods that take data, never a schema: called as they are (the server's hot path). */
const DATA_METHODS = new Set([
  'parse',
  'safeParse',
  'parseAsync',
  'safeParseAsync',
  'spa',
  'decode',
  'encode',
  'safeDecode',
  'safeEncode',
  'decodeAsync',
  'encodeAsync',
  'safeDecodeAsync',
  'safeEncodeAsync',
]);

const REAL = Symbol('rotor.deferred.real');

type Thunk = () => object;

function realOf(value: unknown): unknown {
  const thunk =
    value !== null && (typeof value === 'object' || typeof value === 'function')
      ? (value as { [REAL]?: Thunk })[REAL]
      : undefined;
  return thunk ? thunk() : value;
}

/** Replaces recorded schemas by real ones in arguments: schemas, and arrays or plain objects of them. */
function unwrap(value: unknown, depth = 0): unknown {
  const real = realOf(value);
  if (real !== value || depth > 2 || value === null || typeof value !== 'object') return real;
  if (Array.isArray(value)) {
    const items = value.map((item) => unwrap(item, depth + 1));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = unwrap(item, depth + 1);
    if (out[key] !== item) changed = true;
  }
  return changed ? out : value;
}

const unwrapAll = (args: unknown[]) => args.map((a) => unwrap(a));

/** A proxy for the object `make` returns, built on first use; `builders` calls are recorded. */
function deferred(make: Thunk, builders: ReadonlySet<string>): object {
  let real: object | undefined;
  const get = (): object => (real ??= make());
  const bound = new Map<PropertyKey, unknown>();
  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (prop === REAL) return get;
      if (typeof prop === 'string' && builders.has(prop) && real === undefined)
        return (...args: unknown[]) =>
          deferred(() => {
            const target = get() as Record<string, (...a: unknown[]) => object>;
            return target[prop]!(...unwrapAll(args));
          }, SCHEMA_BUILDERS);
      const target = get();
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => unknown;
      if (!bound.has(prop))
        bound.set(
          prop,
          builders === SCHEMA_BUILDERS && typeof prop === 'string' && DATA_METHODS.has(prop)
            ? fn.bind(target)
            : (...args: unknown[]) => fn.apply(target, unwrapAll(args)),
        );
      return bound.get(prop);
    },
    has: (_t, prop) => prop === REAL || Reflect.has(get(), prop),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor(_t, prop) {
      const d = Reflect.getOwnPropertyDescriptor(get(), prop);
      return d && { ...d, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(get()),
    set: (_t, prop, value) => Reflect.set(get(), prop, value),
    defineProperty: (_t, prop, d) => Reflect.defineProperty(get(), prop, d),
    deleteProperty: (_t, prop) => Reflect.deleteProperty(get(), prop),
  };
  return new Proxy({}, handler);
}

/**
 * A deferred `z`: `load` returns the real one, called on first real use. The result passes for
 * the real namespace; schemas it builds pass for real schemas.
 */
export function deferredNamespace<T extends object>(load: () => T): T {
  return deferred(load, NAMESPACE_BUILDERS) as T;
}

/** The real object behind a deferred one (itself for anything else): for tests. */
export function materialize<T>(value: T): T {
  return realOf(value) as T;
}
