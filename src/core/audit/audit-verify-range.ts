// The hot loop of `rotor audit verify` on a bulk reader (main thread and workers): checks one range
// of seqs against stored hashes and stops at the first bad row; audit-verify.ts explains it.
import { chainHash } from './audit-log.js';
import { CANONICAL_ENTRY_SHAPE, entryProblem } from './audit-query.js';
import type { AuditAnchor } from './audit-verify.js';
import type { AuditReader } from '../store/open-store.js';

/** Upper bound for a range that runs to the end of the log (rows appended meanwhile included). */
export const OPEN_END = Number.MAX_SAFE_INTEGER;

export interface RangeRequest {
  /** The row the range chains on: `[0, GENESIS_HASH]` at the start of the log. */
  startSeq: number;
  startHash: string;
  /** Last seq of the range, inclusive; OPEN_END for the rest of the log. */
  upTo: number;
  chunkSize: number;
  allowSeqGaps: boolean;
  anchor?: AuditAnchor;
}

/** Plain data, so a worker thread can post it back. */
export interface RangeResult {
  startSeq: number;
  startHash: string;
  /** Rows accepted. */
  rows: number;
  /** The last accepted row (the start row when none was). */
  lastSeq: number;
  lastHash: string;
  anchorSeen: boolean;
  /** True when the row after `lastSeq` was not accepted: the chain is broken there. */
  stopped: boolean;
}

/** Checks the rows in `(startSeq, upTo]`, stopping before the first one `verify` would report. */
export async function scanAuditRange(
  reader: Pick<AuditReader, 'rows'>,
  request: RangeRequest,
): Promise<RangeResult> {
  const { upTo, chunkSize, allowSeqGaps, anchor } = request;
  const anchorSeq = anchor ? anchor.seq : -1;
  let prevSeq = request.startSeq;
  let prevHash = request.startHash;
  let rows = 0;
  let anchorSeen = false;
  const result = (stopped: boolean): RangeResult => ({
    startSeq: request.startSeq,
    startHash: request.startHash,
    rows,
    lastSeq: prevSeq,
    lastHash: prevHash,
    anchorSeen,
    stopped,
  });

  for (;;) {
    const chunk = await reader.rows(prevSeq, upTo, chunkSize);
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const row = chunk[i]!;
      const seq = row[0];
      const entry = row[1];
      const hash = row[2];
      // A non-string entry (NULL, BLOB) is left to the portable path, which reads it as Kysely does.
      if (typeof entry !== 'string') return result(true);
      if (
        seq !== prevSeq + 1 ||
        chainHash(prevHash, entry) !== hash ||
        !CANONICAL_ENTRY_SHAPE.test(entry)
      ) {
        // What `diagnose` accepts: a linked row whose gap is allowed and whose entry is well formed.
        const accepted =
          chainHash(prevHash, entry) === hash &&
          (seq === prevSeq + 1 || allowSeqGaps) &&
          entryProblem(entry) === undefined;
        if (!accepted) return result(true);
      }
      if (seq === anchorSeq) {
        if (hash !== anchor!.hash) return result(true);
        anchorSeen = true;
      }
      prevSeq = seq;
      prevHash = hash;
      rows++;
    }
    if (n < chunkSize) return result(false);
  }
}
