// Chain status for pages that show it on every view: a full verification now and then, otherwise
// only the rows after the last verified head (what that misses: docs/server.md, audit log).
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';
import {
  verifyAuditChain,
  type AuditVerifyResult,
  type VerifyAuditOptions,
} from './audit-verify.js';
import { GENESIS_HASH } from './audit-log.js';
import { OPEN_END, scanAuditRange } from './audit-verify-range.js';

export interface ChainStatus extends AuditVerifyResult {
  /** When the whole chain was last verified (ms since the epoch). */
  fullAt: number;
  /** Whether this answer came from verifying only the rows after the last head. */
  incremental: boolean;
}

export interface IncrementalVerifier {
  status(store: VerifyStore): Promise<ChainStatus>;
}

type VerifyStore = Pick<Store, 'db' | 'guard' | 'dialect' | 'auditReader'>;

/** Default: a full verification at most every 10 minutes. */
export const DEFAULT_FULL_EVERY_MS = 10 * 60_000;

export function createIncrementalVerifier(options: {
  clock: Clock;
  fullEveryMs?: number;
  verify?: VerifyAuditOptions;
}): IncrementalVerifier {
  const fullEveryMs = options.fullEveryMs ?? DEFAULT_FULL_EVERY_MS;
  let last: ChainStatus | undefined;
  // One check at a time: concurrent page views share it.
  let running: Promise<ChainStatus> | undefined;

  async function full(store: VerifyStore): Promise<ChainStatus> {
    const result = await verifyAuditChain(store, options.verify ?? {});
    return { ...result, fullAt: options.clock.now(), incremental: false };
  }

  async function incremental(
    store: VerifyStore,
    head: ChainStatus,
  ): Promise<ChainStatus | undefined> {
    if (!store.auditReader) return undefined;
    const reader = await store.guard(async () => store.auditReader!.open());
    try {
      // Start on the row before the head, so the head row itself is re-hashed (an edit to its
      // entry shows) and must still carry the hash it had (the anchor).
      const before =
        head.headSeq > 1
          ? await store.guard(async () => reader.rowAtOrBefore(head.headSeq - 1))
          : undefined;
      const [startSeq, startHash] = before ?? [0, GENESIS_HASH];
      const anchor = head.headSeq > 0 ? { anchor: { seq: head.headSeq, hash: head.headHash } } : {};
      const range = await store.guard(() =>
        scanAuditRange(reader, {
          startSeq,
          startHash,
          upTo: OPEN_END,
          chunkSize: 1024,
          allowSeqGaps: store.dialect !== 'sqlite',
          ...anchor,
        }),
      );
      if (range.stopped || (head.headSeq > 0 && !range.anchorSeen)) return undefined;
      const headRows = head.headSeq > 0 ? 1 : 0;
      return {
        ok: true,
        rows: head.rows - headRows + range.rows,
        headSeq: range.lastSeq,
        headHash: range.lastHash,
        fullAt: head.fullAt,
        incremental: true,
      };
    } finally {
      await reader.close();
    }
  }

  async function check(store: VerifyStore): Promise<ChainStatus> {
    const previous = last;
    const fresh = previous?.ok && options.clock.now() - previous.fullAt < fullEveryMs;
    // Anything the incremental check cannot accept goes to a full verification, which names the first bad row.
    const result = (fresh ? await incremental(store, previous) : undefined) ?? (await full(store));
    last = result;
    return result;
  }

  return {
    status(store) {
      running ??= check(store).finally(() => (running = undefined));
      return running;
    },
  };
}
