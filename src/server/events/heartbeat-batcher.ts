// Heartbeats are writes; a thousand clients acknowledging one rotation arrive together. They are
// queued for a few milliseconds and written in one transaction, and each request is answered
// only once its heartbeat is committed (an ack the client saw answered is one `retire` sees).
import type { Clock } from '../../core/clock.js';
import { recordHeartbeats } from '../../core/consumers/record-heartbeat.js';
import type { Heartbeat } from '../../core/consumers/consumer-record.js';
import type { Store } from '../../core/store/open-store.js';

export interface HeartbeatBatcher {
  record(beat: Heartbeat): Promise<void>;
  close(): Promise<void>;
}

export function createHeartbeatBatcher(
  store: () => Promise<Pick<Store, 'writeTransaction'>>,
  clock: Clock,
  options: { delayMs?: number; maxBatch?: number } = {},
): HeartbeatBatcher {
  const delayMs = options.delayMs ?? 10;
  const maxBatch = options.maxBatch ?? 500;
  let queue: { beat: Heartbeat; resolve(): void; reject(error: unknown): void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    // One consumer twice in a batch: its last report wins.
    const latest = new Map<string, Heartbeat>();
    for (const { beat } of batch) latest.set(beat.consumerId, beat);
    flushing = flushing.then(async () => {
      try {
        await recordHeartbeats(await store(), clock, [...latest.values()]);
        for (const b of batch) b.resolve();
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    });
  }

  return {
    record(beat) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ beat, resolve, reject });
        if (queue.length >= maxBatch) flush();
        else timer ??= setTimeout(flush, delayMs);
      });
    },
    async close() {
      flush();
      await flushing;
    },
  };
}
