// What rotor/pg and rotor/mysql share around a pool that is swapped when the URL changes: the
// options check, errors reported only to listeners, old pools drained in the background.
import { EventEmitter } from 'node:events';
import { RotorError } from '../../core/errors.js';
import type { ValueSource } from './value-source.js';

export interface PoolSwap {
  /** The user of the pool being drained. */
  from: string;
  /** The user of the new pool. */
  to: string;
}

/** What rotor/pg's and rotor/mysql's pools share; each adds its driver's query methods. */
export interface SwappingPool extends EventEmitter {
  /** Resolves once the first URL is loaded (queries wait for it anyway). */
  ready(): Promise<void>;
  /** Stops watching and ends every pool (the current one and any still draining). */
  end(): Promise<void>;
  /** How many times the pool was swapped for a new credential. */
  readonly swaps: number;
  /** Old pools still waiting for their work (queries, checked-out clients) to finish. */
  readonly draining: number;
  /** The user new connections log in as. */
  readonly user: string | undefined;
}

export interface PoolSourceOptions {
  /** The Rotor secret holding the URL (default `DATABASE_URL`). */
  secret?: string;
  /** Where the URL is read and watched: `valueFromStore({ … })` or `valueFromEnv()`. */
  source: ValueSource;
}

/** Checks createPool's options; splits off the secret and source from the driver's options. */
export function splitPoolOptions<O extends PoolSourceOptions>(
  options: O,
): { secret: string; source: ValueSource; poolOptions: Omit<O, keyof PoolSourceOptions> } {
  if (typeof options !== 'object' || options === null)
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'createPool takes one options object: { source: valueFromStore({ … }) or valueFromEnv(), … }',
    );
  const { secret = 'DATABASE_URL', source, ...poolOptions } = options;
  if (!source || typeof source.load !== 'function')
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'createPool needs a source: valueFromStore({ … }) or valueFromEnv()',
    );
  return { secret, source, poolOptions };
}

export interface PoolEvents {
  /** The pool object handed to the app. */
  emitter: EventEmitter;
  /** Emits `error` only when someone listens, so a background failure never crashes the app. */
  report: (error: unknown) => void;
  /** Runs `end` in the background, then emits `drained`; failures are reported. */
  drain: (end: () => Promise<void>) => void;
  /** The drains still running. */
  draining: Set<Promise<void>>;
}

export function createPoolEvents(): PoolEvents {
  const emitter = new EventEmitter();
  const draining = new Set<Promise<void>>();
  const report = (error: unknown) => {
    if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
  };
  const drain = (end: () => Promise<void>) => {
    const done = end()
      .catch(report)
      .finally(() => {
        draining.delete(done);
        emitter.emit('drained');
      });
    draining.add(done);
  };
  return { emitter, report, drain, draining };
}

/** The pool's live counters: getters are defined, not assigned (Object.assign copies values once). */
export function defineCounters(
  events: PoolEvents,
  read: { swaps: () => number; user: () => string | undefined },
): void {
  Object.defineProperties(events.emitter, {
    swaps: { get: read.swaps, enumerable: true },
    draining: { get: () => events.draining.size, enumerable: true },
    user: { get: read.user, enumerable: true },
  });
}
