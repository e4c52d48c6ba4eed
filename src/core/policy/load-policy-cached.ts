// rotor.yaml validated once per change: the validated policy is cached in the state directory,
// keyed by a hash of the bytes, path, build and kinds; a bad entry is ignored, never trusted.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyRotator } from '../rotator/rotator-contract.js';
import { loadPolicy, parsePolicy } from './load-policy.js';
import type { Policy } from './policy.js';
import { decodePolicy, encodePolicy } from './policy-cache-codec.js';
import { MASTER_KEY_KIND } from '../crypto/master-key-names.js';

/** Bump when the entry's layout or the Policy type changes. */
const CACHE_FORMAT = 1;

export const POLICY_CACHE_FILE = 'policy-cache.json';

export interface PolicyCacheOptions {
  /** The state directory the entry lives in; nothing is written when it does not exist. */
  stateDir: string;
  /** Identifies the code that validated the policy (the CLI bundle's build); part of the key. */
  buildId: string;
}

interface Entry {
  format: number;
  key: string;
  /** sha256 of `policy`, so a damaged entry is told from a good one. */
  sum: string;
  policy: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

export function policyCacheKey(
  bytes: Buffer,
  file: string,
  rotators: readonly AnyRotator[],
  buildId: string,
): string {
  const context = JSON.stringify([CACHE_FORMAT, buildId, file, rotators.map((r) => r.kind)]);
  return createHash('sha256').update(context).update('\0').update(bytes).digest('hex');
}

function readEntry(path: string, key: string, kinds: ReadonlySet<string>): Policy | undefined {
  let entry: Partial<Entry>;
  try {
    entry = JSON.parse(readFileSync(path, 'utf8')) as Partial<Entry>;
  } catch {
    return undefined;
  }
  if (
    entry?.format !== CACHE_FORMAT ||
    entry.key !== key ||
    typeof entry.policy !== 'string' ||
    entry.sum !== sha256(entry.policy)
  )
    return undefined;
  return decodePolicy(entry.policy, kinds);
}

function writeEntry(stateDir: string, key: string, policy: Policy): void {
  const text = encodePolicy(policy);
  if (text === undefined || !existsSync(stateDir)) return;
  const entry: Entry = { format: CACHE_FORMAT, key, sum: sha256(text), policy: text };
  const path = join(stateDir, POLICY_CACHE_FILE);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify(entry), { mode: 0o600 });
    renameSync(temporary, path);
  } catch {
    // A read-only state directory (a monitoring host) only costs the next command a parse.
    rmSync(temporary, { force: true });
  }
}

/** loadPolicy through the cache: same result and same errors, faster when rotor.yaml is unchanged. */
export function loadPolicyCached(
  file: string,
  rotators: readonly AnyRotator[],
  cache: PolicyCacheOptions,
): Policy {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return loadPolicy(file, rotators);
  }
  const key = policyCacheKey(bytes, file, rotators, cache.buildId);
  const kinds = new Set([...rotators.map((r) => r.kind), MASTER_KEY_KIND]);
  const cached = readEntry(join(cache.stateDir, POLICY_CACHE_FILE), key, kinds);
  if (cached) return cached;
  const policy = parsePolicy(bytes.toString('utf8'), file, rotators);
  writeEntry(cache.stateDir, key, policy);
  return policy;
}
