// Group commit of audit rows over a store's fast read path: events that arrive in the same turn
// of the event loop are chained, in arrival order, and committed in one transaction.
import type { AuditRowInsert, FastReads } from '../store/store-capabilities.js';
import {
  auditEntry,
  canonicalEntry,
  chainHash,
  GENESIS_HASH,
  type Actor,
  type AuditEntry,
  type AuditEventInput,
} from './audit-log.js';

export interface GroupAuditAppender {
  /**
   * Resolves once the event's row has committed; a failed commit rejects every event in it, so
   * a caller that waits before acting (handing out a value) never acts unrecorded.
   */
  append(at: number, actor: Actor, input: AuditEventInput): Promise<void>;
}

interface Pending {
  at: number;
  entry: AuditEntry;
  resolve(): void;
  reject(error: unknown): void;
}

/** Chains `batch` after the row whose hash is `head`. */
function link(head: string | undefined, batch: readonly Pending[]): AuditRowInsert[] {
  let previous = head ?? GENESIS_HASH;
  return batch.map(({ at, entry }) => {
    const text = canonicalEntry(entry);
    previous = chainHash(previous, text);
    return {
      at,
      secret: entry.secret,
      environment: entry.environment,
      action: entry.action,
      entry: text,
      hash: previous,
    };
  });
}

/**
 * What is saved is a BEGIN/COMMIT and a WAL write per event under load.
 * @example
 * const audit = createGroupAuditAppender(fastReads);
 * await audit.append(clock.now(), actor, { action: 'read.get', outcome: 'success', … });
 */
export function createGroupAuditAppender(
  reads: Pick<FastReads, 'appendAudit'>,
): GroupAuditAppender {
  let pending: Pending[] = [];
  async function flush(): Promise<void> {
    const batch = pending;
    pending = [];
    try {
      await reads.appendAudit((head) => link(head, batch));
      for (const row of batch) row.resolve();
    } catch (error) {
      for (const row of batch) row.reject(error);
    }
  }
  return {
    append(at, actor, input) {
      const entry = auditEntry(at, actor, input);
      return new Promise<void>((resolve, reject) => {
        if (pending.length === 0) setImmediate(() => void flush());
        pending.push({ at, entry, resolve, reject });
      });
    },
  };
}
