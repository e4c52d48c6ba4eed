// How the API reads one secret value for an app, the hot path of `rotor serve`: the store's fast
// reads where offered, else core's readOneValue; both audit before answering.
import { createGroupAuditAppender } from '../../core/audit/audit-group-append.js';
import type { Actor } from '../../core/audit/audit-log.js';
import type { Rotor } from '../../core/context.js';
import {
  assertReadable,
  inGrace,
  noLiveVersion,
  readOneValue,
  type DeliveredStage,
  type DeliveredValue,
} from '../../core/delivery/read-values.js';
import { RotorError } from '../../core/errors.js';
import {
  setMeta,
  type FastReads,
  type LiveVersionRow,
  type Store,
} from '../../core/store/open-store.js';
import type { TokenLookupRow } from '../../core/tokens/authenticate-token.js';
import { openVersion } from '../../core/vault/versions.js';

export interface SecretReadPath {
  read(
    actor: Actor,
    name: string,
    environment: string,
    stage: DeliveredStage,
  ): Promise<DeliveredValue>;
  /**
   * Commits one small write (the `ready_probe_at` meta row), for /readyz: a store that opens and
   * reads but cannot be written (read-only file, disk full, I/O errors) is not ready. Rejects
   * with ERR_ROTOR_STORE_UNAVAILABLE.
   */
  probeWrite(): Promise<void>;
  /** The token row for authentication, where this path has a faster lookup than Kysely. */
  findToken?(id: string): TokenLookupRow | undefined;
  close(): void;
}

/**
 * Decrypted values kept per version id. A version's value never changes (rotation makes a new
 * version; retiring destroys it and moves it out of the stages the lookup selects, so a cached
 * value is never served once its row is gone): the lookup runs on every read, only the two
 * AES-GCM operations of the envelope are skipped. The process holds the master key anyway.
 */
const VALUE_CACHE_SIZE = 1024;

/** The meta row /readyz writes to prove the store takes writes. */
const READY_PROBE = 'ready_probe_at';

type MasterKey = Awaited<ReturnType<Rotor['masterKey']>>;

export function createSecretReadPath(rotor: Rotor, store: Store): SecretReadPath {
  const fast = store.fastReads?.open();
  if (!fast) {
    return {
      read: (actor, name, environment, stage) =>
        readOneValue(rotor, actor, { secret: name, environment, stage }),
      probeWrite: () =>
        store.writeTransaction((trx) => setMeta(trx, READY_PROBE, String(rotor.clock.now()))),
      close: () => undefined,
    };
  }
  const audit = createGroupAuditAppender(fast);
  const values = createValueCache(fast);
  let master: MasterKey | undefined;
  return {
    async read(actor, name, environment, stage) {
      assertReadable(rotor, name, environment);
      const now = rotor.clock.now();
      const row = fast
        .liveVersions(name, environment)
        .find((r) => r.stage === stage && (stage === 'current' || inGrace(r, now)));
      // The key is kept here (the hot path skips the check rotor.masterKey() makes) until a row
      // is sealed under another: `rotor master-key rotate` ran in another process.
      if (!master || (row?.master_key_id && row.master_key_id !== master.id))
        master = await rotor.masterKey();
      if (!row) throw noLiveVersion(name, environment, stage);
      const value = values.get(master, row);
      await audit.append(now, actor, {
        secret: name,
        environment,
        action: 'read.get',
        outcome: 'success',
        notes: `${name} ${stage} ${row.id}`,
        details: { versionId: row.id, stage, count: 1 },
      });
      return {
        secret: name,
        environment,
        stage,
        variable: stage === 'current' ? name : `${name}_PREVIOUS`,
        versionId: row.id,
        value,
        retireAt: stage === 'previous' ? row.retire_at : null,
      };
    },
    probeWrite: () => fast.setMeta(READY_PROBE, String(rotor.clock.now())),
    findToken: (id) => fast.token(id),
    close: () => {
      values.clear();
      fast.close();
    },
  };
}

/** Decrypted values by master key and version id, opened from the sealed row on a miss. */
function createValueCache(fast: FastReads) {
  const values = new Map<string, string>();
  return {
    get(master: MasterKey, row: LiveVersionRow): string {
      const key = `${row.master_key_id}:${row.id}`;
      let value = values.get(key);
      if (value === undefined) {
        const full = fast.version(row.id);
        if (!full)
          throw new RotorError('ERR_ROTOR_VERSION_NOT_FOUND', `version ${row.id} is gone`, {
            details: { versionId: row.id },
          });
        value = openVersion(master, full);
        if (values.size >= VALUE_CACHE_SIZE) values.delete(values.keys().next().value!);
        values.set(key, value);
      }
      return value;
    },
    clear: () => values.clear(),
  };
}
