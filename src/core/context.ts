// One Rotor instance for one project directory: where the policy and state live, the clock,
// the rotators, the logger, and lazily opened store, policy and master key. Interfaces (CLI,
// server) build one per process and pass it to core functions.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import { RotorError } from './errors.js';
import { closest, didYouMean } from './suggest.js';
import type { MasterKey } from './crypto/envelope.js';
import { loadMasterKey } from './crypto/master-key-file.js';
import {
  MASTER_KEY_CHECK,
  MASTER_KEY_KIND,
  MASTER_KEY_ROTATED_AT,
} from './crypto/master-key-names.js';
import { loadPolicy } from './policy/load-policy.js';
import type { Policy, SecretSpec } from './policy/policy.js';
import type { AnyRotator } from './rotator/rotator-contract.js';
import type { Store } from './store/open-store.js';
import { openSqliteReads, type StoreReads } from './store/sqlite-reads.js';
import { resolveStoreTarget } from './store/store-url.js';

export interface RotorOptions {
  /** Project directory holding rotor.yaml and .rotor/ (default: process.cwd()). */
  cwd?: string;
  policyFile?: string;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  rotators: readonly AnyRotator[];
  logger?: Logger;
  /** Look for rotor.yaml in the directories above cwd when there is none in it (default true; not for `init`). */
  discover?: boolean;
  /**
   * Whether reads() opens the synchronous SQLite read path (default false): for one-shot
   * processes, the CLI's reading commands, never a server.
   */
  syncReads?: boolean;
  /** Reads rotor.yaml (default loadPolicy); the CLI passes one that keeps a validated copy. */
  loadPolicy?: (file: string, rotators: readonly AnyRotator[]) => Policy;
}

export interface Rotor {
  readonly cwd: string;
  readonly policyFile: string;
  readonly stateDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly rotators: readonly AnyRotator[];
  readonly logger: Logger;
  /** Opens (or creates, with `create`) the store once per instance. */
  store(options?: { create?: boolean }): Promise<Store>;
  /**
   * The store's synchronous read path, opened once per instance: a SQLite store at this build's
   * migrations (sqlite-reads.ts), when the instance was created with `syncReads`. Undefined
   * otherwise, and for any other store: callers then read through store().
   * While it is open, masterKey() reads its check value there too.
   */
  reads(): Promise<StoreReads | undefined>;
  policy(): Policy;
  /** Replaces the policy this instance uses: a long-running process following the store's applied policy. */
  usePolicy(policy: Policy): void;
  masterKey(): Promise<MasterKey>;
  rotator(kind: string): AnyRotator;
  /** The policy entry for `name`, or ERR_ROTOR_SECRET_UNKNOWN. */
  secret(name: string): SecretSpec;
  /** Checks that `environment` is configured for `spec`. */
  assertEnvironment(spec: SecretSpec, environment: string): void;
  close(): Promise<void>;
}

export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  // Logs go to stderr and carry ids, names and codes only; `value` fields are redacted as a
  // second line of defence.
  return pino(
    {
      level: env.ROTOR_LOG_LEVEL ?? 'silent',
      base: { app: 'rotor' },
      redact: { paths: ['value', '*.value', 'input', '*.input'], censor: '[redacted]' },
    },
    pino.destination(2),
  );
}

/** The nearest rotor.yaml at or above `dir`, if any. */
export function findPolicyFile(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const file = join(at, 'rotor.yaml');
    if (existsSync(file)) return file;
    if (dirname(at) === at) return undefined;
  }
}

export function createRotor(options: RotorOptions): Rotor {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const explicit = options.policyFile ?? env.ROTOR_CONFIG;
  // Like git: from a subdirectory of the project, the rotor.yaml above is the project's, and its
  // state directory is the one beside it.
  const found =
    explicit === undefined && options.discover !== false ? findPolicyFile(cwd) : undefined;
  const policyFile = found ?? resolve(cwd, explicit ?? 'rotor.yaml');
  const stateDir = resolve(
    cwd,
    options.stateDir ?? env.ROTOR_STATE_DIR ?? (found ? join(dirname(found), '.rotor') : '.rotor'),
  );
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(env);
  let storePromise: Promise<Store> | undefined;
  let readsPromise: Promise<StoreReads | undefined> | undefined;
  let policy: Policy | undefined;
  let master: MasterKey | undefined;
  const byKind = new Map(options.rotators.map((r) => [r.kind, r]));

  const rotor: Rotor = {
    cwd,
    policyFile,
    stateDir,
    env,
    clock,
    rotators: options.rotators,
    logger,
    store(opts) {
      // Loaded on first use: the reading commands never load Kysely (see reads()).
      storePromise ??= import('./store/open-store.js').then(({ openStore }) =>
        openStore({ stateDir, create: opts?.create ?? false, env }),
      );
      storePromise.catch(() => (storePromise = undefined));
      return storePromise;
    },
    reads() {
      readsPromise ??= (async () => {
        if (!options.syncReads) return undefined;
        const target = resolveStoreTarget(stateDir, env);
        if (target.kind !== 'sqlite') return undefined;
        return openSqliteReads(target.file);
      })();
      readsPromise.catch(() => (readsPromise = undefined));
      return readsPromise;
    },
    policy() {
      policy ??= (options.loadPolicy ?? loadPolicy)(policyFile, options.rotators);
      return policy;
    },
    usePolicy(next) {
      policy = next;
    },
    async masterKey() {
      const reads = readsPromise && (await readsPromise.catch(() => undefined));
      const check = reads
        ? reads.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', MASTER_KEY_CHECK)
            ?.value
        : await rotor.store().then(async (store) => {
            const { getMeta } = await import('./store/open-store.js');
            return store.guard(() => getMeta(store, MASTER_KEY_CHECK));
          });
      // A long-running process (serve, scheduler) keeps its key until `rotor master-key rotate`
      // in another process re-wraps the store; then it loads the new one from the key file.
      if (master && (!check || master.matchesCheckValue(Buffer.from(check, 'base64'))))
        return master;
      const key = loadMasterKey(
        { stateDir, env },
        check ? Buffer.from(check, 'base64') : undefined,
      );
      if (!check) {
        const store = await rotor.store();
        const { setMeta } = await import('./store/open-store.js');
        await store.writeTransaction(async (trx) => {
          await setMeta(trx, MASTER_KEY_CHECK, key.checkValue().toString('base64'));
          await setMeta(trx, MASTER_KEY_ROTATED_AT, String(clock.now()));
        });
      }
      master = key;
      return key;
    },
    rotator(kind) {
      const r = byKind.get(kind);
      if (!r) {
        if (kind === MASTER_KEY_KIND) {
          throw new RotorError(
            'ERR_ROTOR_ROTATION_NOT_SUPPORTED',
            'the master key is rotated with `rotor master-key rotate`',
          );
        }
        throw new RotorError('ERR_ROTOR_ROTATOR_UNKNOWN', `no rotator for kind "${kind}"`);
      }
      return r;
    },
    secret(name) {
      const spec = rotor.policy().secrets.get(name);
      if (!spec) {
        const hint = didYouMean(name, rotor.policy().secrets.keys());
        throw new RotorError(
          'ERR_ROTOR_SECRET_UNKNOWN',
          `unknown secret "${name}"${hint}: it is not in ${policyFile}`,
          {
            details: {
              secret: name,
              ...(hint ? { suggestion: closest(name, rotor.policy().secrets.keys()) } : {}),
            },
          },
        );
      }
      return spec;
    },
    assertEnvironment(spec, environment) {
      if (!rotor.policy().environments.includes(environment)) {
        const hint = didYouMean(environment, rotor.policy().environments);
        throw new RotorError(
          'ERR_ROTOR_ENV_UNKNOWN',
          `unknown environment "${environment}"${hint}: configured are ${rotor.policy().environments.join(', ')}`,
          {
            details: { environment },
          },
        );
      }
      if (spec.kind !== MASTER_KEY_KIND && !spec.environments.includes(environment)) {
        throw new RotorError(
          'ERR_ROTOR_ENV_UNKNOWN',
          `${spec.name} is not used in environment "${environment}" (it is in ${spec.environments.join(', ')})`,
          {
            details: { environment, secret: spec.name },
          },
        );
      }
    },
    async close() {
      const s = storePromise;
      const r = readsPromise;
      storePromise = undefined;
      readsPromise = undefined;
      (await r?.catch(() => undefined))?.close();
      if (s) await (await s.catch(() => undefined))?.close();
    },
  };
  return rotor;
}

export function defaultStateDir(cwd: string): string {
  return join(cwd, '.rotor');
}
