// Worker thread for `rotor audit verify` on a large log: opens its own read-only connection
// through the store's `AuditReaderSource.remote`, checks one range of seqs and posts the
// RangeResult (or the error's code and message) back. Started by audit-verify.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { GENESIS_HASH } from './audit-log.js';
import { scanAuditRange, type RangeRequest, type RangeResult } from './audit-verify-range.js';
import type { AuditReader, AuditReaderModule } from '../store/open-store.js';

export interface WorkerRequest extends Omit<RangeRequest, 'startSeq' | 'startHash'> {
  /** The range is `(after, upTo]`; it chains on the newest row at or before `after`. */
  after: number;
  remote: { module: string; config: unknown };
}

export type WorkerReply =
  { ok: true; result: RangeResult } | { ok: false; code?: string; message: string };

async function main(request: WorkerRequest): Promise<WorkerReply> {
  const remote = (await import(request.remote.module)) as AuditReaderModule;
  const reader: AuditReader = remote.openAuditReader(request.remote.config);
  try {
    const start = request.after === 0 ? undefined : await reader.rowAtOrBefore(request.after);
    const result = await scanAuditRange(reader, {
      ...request,
      startSeq: start?.[0] ?? 0,
      startHash: start?.[1] ?? GENESIS_HASH,
    });
    return { ok: true, result };
  } finally {
    await reader.close();
  }
}

if (parentPort) {
  const port = parentPort;
  main(workerData as WorkerRequest).then(
    (reply) => port.postMessage(reply),
    (error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      port.postMessage({
        ok: false,
        message: error instanceof Error ? error.message : String(error),
        ...(typeof code === 'string' ? { code } : {}),
      } satisfies WorkerReply);
    },
  );
}
