// A rotator whose implementation is loaded on first use. The registry must know every kind's
// name and config schema to read rotor.yaml, but most commands never open a database: loading
// pg and mysql2 for them cost ~110 ms of every CLI start. Only asynchronous hooks can wait for
// the module, so a kind with synchronous hooks (deliveredParts, publishAhead, publicJwk) is
// registered directly instead. test/lazy-rotator.test.ts checks each lazy entry against the
// descriptor it loads.
import type { RotatorDescriptor } from '../core/rotator/rotator-contract.js';

/** The optional hooks a lazy entry can forward (each returns a promise). */
export type LazyHook = 'prove' | 'emergencyActions' | 'validateImport' | 'runSql';

export interface LazyRotatorMeta<Config> {
  kind: string;
  summary: string;
  configSchema: RotatorDescriptor<Config>['configSchema'];
  source: RotatorDescriptor<Config>['source'];
  /** The optional hooks the loaded descriptor implements. */
  hooks: readonly LazyHook[];
}

export function lazyRotator<Config>(
  meta: LazyRotatorMeta<Config>,
  load: () => Promise<RotatorDescriptor<Config>>,
): RotatorDescriptor<Config> {
  let loaded: Promise<RotatorDescriptor<Config>> | undefined;
  const real = () => (loaded ??= load());
  const forward = <K extends keyof RotatorDescriptor<Config>>(hook: K) =>
    (async (...args: unknown[]) => {
      const target = await real();
      const fn = target[hook] as (...a: unknown[]) => Promise<unknown>;
      return fn.apply(target, args);
    }) as NonNullable<RotatorDescriptor<Config>[K]>;
  const descriptor: RotatorDescriptor<Config> = {
    kind: meta.kind,
    summary: meta.summary,
    configSchema: meta.configSchema,
    source: meta.source,
    create: forward('create'),
    apply: forward('apply'),
    verify: forward('verify'),
    retire: forward('retire'),
  };
  for (const hook of meta.hooks) Object.assign(descriptor, { [hook]: forward(hook) });
  return descriptor;
}
