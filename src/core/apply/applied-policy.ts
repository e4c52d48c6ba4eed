// A long-running process (`rotor serve`) follows the policy applied to the store, not the
// rotor.yaml it read at start: `rotor apply` in another process records the file's text and
// SHA-256 in `meta`, and the follower loads that text into the Rotor when the digest moves.
// It reads `meta` only after the store's change signal (`store.changes`: SQLite's data_version,
// PostgreSQL's NOTIFY) saw a commit, or at most once a second where the store has none.
import { createHash } from 'node:crypto';
import type { Rotor } from '../context.js';
import type { ChangeWatch, Store } from '../store/open-store.js';
import { POLICY_DIGEST, POLICY_TEXT, policyDigest } from './apply-policy.js';
import { loadPolicy, parsePolicy } from '../policy/load-policy.js';

/** How often a store without a change signal has its applied digest read (at most). */
const POLL_MS = 1_000;

export interface AppliedPolicyFollower {
  /**
   * Loads the store's applied policy into the Rotor when it changed since the last call. Never
   * rejects: a policy that cannot be loaded is logged and the previous one stays in use.
   */
  refresh(): Promise<void>;
  /** The digest of the policy in use, once one was loaded from the store. */
  readonly digest: string | undefined;
  close(): void;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/**
 * @example
 * const follower = followAppliedPolicy(rotor, await rotor.store());
 * await follower.refresh(); // before each request and each scheduler tick
 */
export function followAppliedPolicy(
  rotor: Rotor,
  store: Pick<Store, 'db' | 'guard' | 'changes'>,
): AppliedPolicyFollower {
  const log = rotor.logger.child({ component: 'policy' });
  const meta = async (key: string): Promise<string | undefined> =>
    (
      await store.guard(() =>
        store.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst(),
      )
    )?.value;
  let loaded: string | undefined;
  let skipped: string | undefined;
  let dirty = true;
  let readAt = -Infinity;
  let closed = false;
  let running: Promise<void> | undefined;
  const watch: Promise<ChangeWatch | undefined> = store.changes
    ? store.changes
        .watch({ pollMs: POLL_MS, onChange: () => void (dirty = true) })
        .catch((error: unknown) => {
          log.warn({ code: (error as { code?: string }).code }, 'no change signal: polling');
          return undefined;
        })
    : Promise.resolve(undefined);

  const load = (digest: string) => loadApplied(rotor, { meta, log, digest, following: loaded });

  async function look(): Promise<void> {
    const w = await watch;
    if (closed) return;
    if (w) await w.check();
    else if (Date.now() - readAt >= POLL_MS) dirty = true;
    if (!dirty) return;
    dirty = false;
    readAt = Date.now();
    const digest = await meta(POLICY_DIGEST);
    if (digest === undefined || digest === loaded || digest === skipped) return;
    if (await load(digest)) loaded = digest;
    else skipped = digest;
  }

  return {
    refresh() {
      running ??= look()
        .catch((error: unknown) => {
          dirty = true; // look again next time
          log.error(
            { code: (error as { code?: string }).code },
            'cannot read the applied policy; keeping the policy in use',
          );
        })
        .finally(() => (running = undefined));
      return running;
    },
    get digest() {
      return loaded;
    },
    close() {
      closed = true;
      void watch.then((w) => w?.close()).catch(() => undefined);
    },
  };
}

/** Loads the applied policy of `digest` into the Rotor; false (logged) when it cannot. */
async function loadApplied(
  rotor: Rotor,
  options: {
    meta: (key: string) => Promise<string | undefined>;
    log: Rotor['logger'];
    digest: string;
    /** The digest in use before, if one was loaded from the store. */
    following: string | undefined;
  },
): Promise<boolean> {
  const { log, digest } = options;
  const text = await options.meta(POLICY_TEXT);
  let source: { text: string; from: string } | undefined;
  if (text !== undefined && sha256(text) === digest)
    source = { text, from: `${rotor.policyFile} (as applied)` };
  // Applied by a Rotor that did not record the text: the file is the applied policy only while its digest matches.
  else if (policyDigest(rotor.policyFile) === digest) source = { text: '', from: rotor.policyFile };
  if (!source) {
    log.warn(
      { digest },
      'the applied policy is not recorded in the store and rotor.yaml differs from it: run `rotor apply` again; keeping the policy in use',
    );
    return false;
  }
  try {
    const policy =
      source.text === ''
        ? loadPolicy(rotor.policyFile, rotor.rotators)
        : parsePolicy(source.text, source.from, rotor.rotators);
    rotor.usePolicy(policy);
    if (options.following !== undefined)
      log.info({ digest }, 'applied policy changed: now following it');
    return true;
  } catch (error) {
    log.error(
      { digest, code: (error as { code?: string }).code },
      'the applied policy cannot be loaded; keeping the policy in use',
    );
    return false;
  }
}
