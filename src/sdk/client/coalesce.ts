// One run at a time of a piece of background work (a heartbeat, a sync), however often it is
// asked for. In rotor/client's folder so the client loads nothing new; rotor/tokens uses it too.

export interface Coalesced {
  /** Starts a run, or asks the one in flight for one more right after it; resolves with it. */
  run(): Promise<void>;
  /** The run in flight, if any (close waits for it). */
  inFlight(): Promise<void> | undefined;
}

/**
 * Coalesces calls of `work`: at most one in flight, and one more after it if asked meanwhile;
 * no more once `closed()` says so.
 *
 * @example
 * const heartbeat = coalesce(sendHeartbeat, () => closed);
 * void heartbeat.run();
 */
export function coalesce(work: () => Promise<void>, closed: () => boolean): Coalesced {
  let running: Promise<void> | undefined;
  let again = false;
  return {
    run() {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        try {
          do {
            again = false;
            await work();
          } while (again && !closed());
        } finally {
          running = undefined;
        }
      })();
      return running;
    },
    inFlight: () => running,
  };
}
