// `rotor master-key rotate`: re-wraps every data key under a new master key, crash-safe (the steps
// and what a crash leaves: docs/security.md).
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { MASTER_KEY_CHECK, MASTER_KEY_ROTATED_AT } from '../crypto/master-key-names.js';
import { RotorError } from '../errors.js';
import type { Kysely } from 'kysely';
import { setMeta, type Store } from '../store/open-store.js';
import type { Database } from '../store/schema.js';
import { acquireLock } from '../rotation/lock.js';
import { generateMasterKey, rewrapKey, type MasterKey } from '../crypto/envelope.js';
import { rewrapOperatorSecrets } from '../operators/rewrap-operator-secrets.js';
import {
  MASTER_KEY_FILE,
  NEXT_MASTER_KEY_FILE,
  masterKeyFromEnv,
  writeKeyFile,
} from '../crypto/master-key-file.js';

export interface MasterKeyRotation {
  oldKeyId: string;
  newKeyId: string;
  rewrapped: number;
  /** Where the new key was written. */
  keyFile: string;
  fromEnv: boolean;
}

type RotateDeps = Pick<Rotor, 'store' | 'masterKey' | 'clock' | 'stateDir' | 'env'>;
type RotateOptions = { newKeyFile?: string; afterWrite?: () => void };

/** Where the new key is written: next to the store's key, or the file named for an env-held key. */
function newKeyTarget(
  rotor: RotateDeps,
  options: RotateOptions,
): { keyFile: string; fromEnv: boolean } {
  const fromEnv = masterKeyFromEnv({ stateDir: rotor.stateDir, env: rotor.env });
  if (fromEnv && !options.newKeyFile) {
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'the master key comes from ROTOR_MASTER_KEY: pass --new-key-file FILE to receive the new key, then update ROTOR_MASTER_KEY from it',
    );
  }
  const keyFile = fromEnv ? options.newKeyFile! : join(rotor.stateDir, NEXT_MASTER_KEY_FILE);
  if (fromEnv && existsSync(keyFile)) {
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      `${keyFile} already exists: Rotor will not overwrite a key file`,
    );
  }
  return { keyFile, fromEnv };
}

/** A running or interrupted rotation holds values under the old key: it is finished first. */
async function assertNoRotationRunning(store: Store): Promise<void> {
  const running = await store.db
    .selectFrom('rotations')
    .select('id')
    .where('state', '=', 'running')
    .executeTakeFirst();
  if (running) {
    throw new RotorError(
      'ERR_ROTOR_ROTATION_IN_PROGRESS',
      'a rotation is running or was interrupted: finish it (`rotor resume`) before rotating the master key',
    );
  }
}

/** Re-wraps every version's data key from `old` to `next`; resolves to how many. */
async function rewrapVersionKeys(
  trx: Kysely<Database>,
  old: MasterKey,
  next: MasterKey,
): Promise<number> {
  const rows = await trx
    .selectFrom('versions')
    .select(['id', 'secret', 'environment', 'wrapped_key'])
    .where('wrapped_key', 'is not', null)
    .execute();
  for (const row of rows) {
    const wrapped = rewrapKey(old, next, row.wrapped_key!, {
      secret: row.secret,
      environment: row.environment,
      versionId: row.id,
    });
    await trx
      .updateTable('versions')
      .set({ wrapped_key: wrapped, master_key_id: next.id })
      .where('id', '=', row.id)
      .execute();
  }
  return rows.length;
}

export async function rotateMasterKey(
  rotor: RotateDeps,
  actor: Actor,
  options: RotateOptions = {},
): Promise<MasterKeyRotation> {
  const store = await rotor.store();
  const old = await rotor.masterKey();
  const { keyFile, fromEnv } = newKeyTarget(rotor, options);
  const lock = await acquireLock(store, rotor.clock, 'master-key');
  try {
    await assertNoRotationRunning(store);
    const next = generateMasterKey();
    if (!fromEnv) rmSync(keyFile, { force: true });
    writeKeyFile(keyFile, next);
    options.afterWrite?.();
    let rewrapped = 0;
    await store.writeTransaction(async (trx) => {
      rewrapped = await rewrapVersionKeys(trx, old, next);
      // Operators' TOTP secrets are sealed with the master key too.
      rewrapped += await rewrapOperatorSecrets(trx, old, next);
      await setMeta(trx, MASTER_KEY_CHECK, next.checkValue().toString('base64'));
      await setMeta(trx, MASTER_KEY_ROTATED_AT, String(rotor.clock.now()));
      await appendAudit(trx, rotor.clock, actor, {
        secret: 'ROTOR_MASTER_KEY',
        environment: '*',
        action: 'master-key.rotate',
        outcome: 'success',
        notes: `re-wrapped ${rewrapped} data key(s)`,
        details: { oldKeyId: old.id, newKeyId: next.id, rewrapped },
      });
    });
    if (!fromEnv) renameSync(keyFile, join(rotor.stateDir, MASTER_KEY_FILE));
    return {
      oldKeyId: old.id,
      newKeyId: next.id,
      rewrapped,
      keyFile: fromEnv ? keyFile : join(rotor.stateDir, MASTER_KEY_FILE),
      fromEnv,
    };
  } finally {
    await lock.release();
  }
}
