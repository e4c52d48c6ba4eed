// Keeps an application-side helper (rotor/pg, rotor/mysql) on a secret's current value: the first
// load, retried on the next use if it fails (no current version yet, say), and one reload at a time
// whenever the source says the value may have changed. `apply` receives every loaded value; what a
// change means (a new pool, a drained old one) stays with the caller.
import type { ValueSource } from './value-source.js';

export interface FollowedValue {
  /** Resolves once the first value was applied; a failed first load is tried again on the next call. */
  loaded: () => Promise<void>;
  /** Stops watching and waits for a load or reload in flight. */
  stop(): Promise<void>;
}

export interface FollowOptions {
  /** True once the caller has ended: later reloads are skipped. */
  ended(): boolean;
  /**
   * A reload failed; the current value stays in use. Called only once a first value was applied:
   * before that, the next use retries and there is nothing to report.
   */
  onReloadError(error: unknown): void;
}

export function followValue(
  source: ValueSource,
  secret: string,
  apply: (value: string) => void,
  options: FollowOptions,
): FollowedValue {
  let applied = false;
  const applyLoaded = (value: string) => {
    apply(value);
    applied = true;
  };
  let first: Promise<void> | undefined;
  const loaded = (): Promise<void> => {
    if (!first) {
      const attempt = source.load(secret).then(applyLoaded);
      first = attempt;
      attempt.catch(() => {
        if (first === attempt) first = undefined;
      });
    }
    return first;
  };
  loaded().catch(() => undefined);
  let reloading: Promise<void> = Promise.resolve();
  const unwatch = source.watch(secret, () => {
    reloading = reloading
      .then(async () => {
        await first?.catch(() => undefined);
        if (options.ended()) return;
        applyLoaded(await source.load(secret));
      })
      .catch((error: unknown) => {
        if (applied) options.onReloadError(error);
      });
  });
  return {
    loaded,
    async stop() {
      unwatch();
      await first?.catch(() => undefined);
      await reloading;
    },
  };
}
