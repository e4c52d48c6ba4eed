// A long-running process (`rotor serve`) follows the policy applied to the store, not the
// rotor.yaml it read at start: `rotor apply` in another process records the file's text and
// SHA-256 in `meta`, and the follower loads that text into the Rotor when the digest moves.
// The check is one `PRAGMA data_version` on a read-only connection of its own (it moves only when
// another connection commits), so it can run before every request.
import { createHash } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import type { Rotor } from '../context.js';
import type { Store } from '../store/open-store.js';
import { POLICY_DIGEST, POLICY_TEXT, policyDigest } from './apply-policy.js';
import { loadPolicy, parsePolicy } from '../policy/load-policy.js';

export interface AppliedPolicyFollower {
  /**
   * Loads the store's applied policy into the Rotor when it changed since the last call. Never
   * throws: a policy that cannot be loaded is logged and the previous one stays in use.
   */
  refresh(): void;
  /** The digest of the policy in use, once one was loaded from the store. */
  readonly digest: string | undefined;
  close(): void;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/**
 * @example
 * const follower = followAppliedPolicy(rotor, await rotor.store());
 * follower.refresh(); // before each request and each scheduler tick
 */
export function followAppliedPolicy(
  rotor: Rotor,
  store: Pick<Store, 'location'>,
): AppliedPolicyFollower {
  const db = new BetterSqlite3(store.location, { readonly: true, fileMustExist: true });
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const meta = db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
  let seen = -1;
  let loaded: string | undefined;
  let skipped: string | undefined;
  const log = rotor.logger.child({ component: 'policy' });

  function load(digest: string): void {
    const text = meta.get(POLICY_TEXT);
    let source: { text: string; from: string } | undefined;
    if (text !== undefined && sha256(text) === digest)
      source = { text, from: `${rotor.policyFile} (as applied)` };
    // Applied by a Rotor that did not record the text: the file is the applied policy only while its digest matches.
    else if (policyDigest(rotor.policyFile) === digest)
      source = { text: '', from: rotor.policyFile };
    if (!source) {
      if (skipped !== digest)
        log.warn(
          { digest },
          'the applied policy is not recorded in the store and rotor.yaml differs from it: run `rotor apply` again; keeping the policy in use',
        );
      skipped = digest;
      return;
    }
    try {
      const policy =
        source.text === ''
          ? loadPolicy(rotor.policyFile, rotor.rotators)
          : parsePolicy(source.text, source.from, rotor.rotators);
      rotor.usePolicy(policy);
      if (loaded !== undefined) log.info({ digest }, 'applied policy changed: now following it');
      loaded = digest;
    } catch (error) {
      if (skipped !== digest)
        log.error(
          { digest, code: (error as { code?: string }).code },
          'the applied policy cannot be loaded; keeping the policy in use',
        );
      skipped = digest;
    }
  }

  return {
    refresh() {
      try {
        const version = dataVersion.get()!;
        if (version === seen) return;
        seen = version;
        const digest = meta.get(POLICY_DIGEST);
        if (digest !== undefined && digest !== loaded && digest !== skipped) load(digest);
      } catch (error) {
        log.error(
          { code: (error as { code?: string }).code },
          'cannot read the applied policy; keeping the policy in use',
        );
      }
    },
    get digest() {
      return loaded;
    },
    close() {
      db.close();
    },
  };
}
