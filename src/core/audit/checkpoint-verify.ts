// `rotor audit verify --checkpoints`: the log against signed checkpoints kept out of the admin's
// reach, incrementally by default (docs/audit.md, "Signed checkpoints").
import type { KeyObject } from 'node:crypto';
import { getMeta, type AuditReader, type Store } from '../store/open-store.js';
import { keyId, checkpointSignatureValid, type SignedCheckpoint } from './checkpoint-sign.js';
import { AUDIT_STORE_ID } from './checkpoint-publish.js';
import type { CheckpointTarget } from '../policy/checkpoint-schema.js';
import {
  describeTarget,
  listCheckpoints,
  signedCheckpointSchema,
  type FoundCheckpoint,
} from './checkpoint-target.js';
import { OPEN_END, scanAuditRange } from './audit-verify-range.js';
import { verifyAuditChain, type VerifyAuditOptions } from './audit-verify.js';
import { GENESIS_HASH } from './audit-log.js';
import { openChainReader } from './chain-reader.js';

export const CHECKPOINT_PROBLEMS = [
  'rewritten',
  'truncated',
  'forged',
  'malformed',
  'foreign-store',
  'no-checkpoints',
  'chain',
] as const;
export type CheckpointProblemKind = (typeof CHECKPOINT_PROBLEMS)[number];

export interface CheckpointProblem {
  kind: CheckpointProblemKind;
  /** The first row that disagrees (or the checkpoint's seq), when there is one. */
  seq?: number;
  /** The checkpoint file or URL entry concerned. */
  checkpoint?: string;
  message: string;
}

/** What a successful run trusts from then on (`--state FILE`); local, not signed. */
export interface VerifiedState {
  v: 1;
  store: string;
  /** The head verified. */
  seq: number;
  hash: string;
  /** The newest checkpoint checked; later runs check only newer ones. */
  checkpointSeq: number;
  at: string;
}

export interface CheckpointVerifyResult {
  ok: boolean;
  mode: 'incremental' | 'full';
  /** The store's audit id (meta), if it has one. */
  store?: string;
  source: string;
  checkpoints: {
    found: number;
    checked: number;
    newest?: { seq: number; head: string; at: string };
  };
  /** Where recomputing the chain started: a checkpoint, the state file, or the genesis. */
  from: { seq: number; by: 'checkpoint' | 'state' | 'genesis' };
  /** Rows recomputed. */
  rows: number;
  headSeq: number;
  headHash: string;
  problems: CheckpointProblem[];
  firstBad?: CheckpointProblem;
  /** For the next run (`--state`), when ok. */
  state?: VerifiedState;
}

export interface VerifyCheckpointsOptions {
  source: CheckpointTarget;
  publicKey: KeyObject;
  full?: boolean;
  state?: VerifiedState;
  now?: () => number;
  verify?: VerifyAuditOptions;
}

type VerifyStore = Pick<Store, 'db' | 'guard' | 'dialect' | 'auditReader'>;
type Trusted = { seq: number; hash: string; by: 'checkpoint' | 'state' | 'genesis' };

/**
 * Verifies the audit log against signed checkpoints.
 *
 * @example
 * const r = await verifyWithCheckpoints(store, { source: { dir }, publicKey });
 * if (!r.ok) console.error(r.firstBad!.message);
 */
export async function verifyWithCheckpoints(
  store: VerifyStore,
  options: VerifyCheckpointsOptions,
): Promise<CheckpointVerifyResult> {
  const storeId = await store.guard(() => getMeta(store as Store, AUDIT_STORE_ID));
  const found = await listCheckpoints(options.source);
  const state = options.state?.store === storeId ? options.state : undefined;
  const picked = pickCheckpoints(found, storeId, { full: options.full ?? false, state });
  const problems = [...picked.problems];
  const valid: SignedCheckpoint[] = [];
  for (const f of picked.toCheck) {
    const checked = await checkDocument(f, storeId!, options.publicKey);
    if ('problem' in checked) problems.push(checked.problem);
    else valid.push(checked.checkpoint);
  }
  // One read-only connection for the lookups and the incremental scan.
  const reader = await openChainReader(store);
  try {
    const maxSeq = await store.guard(async () => reader.maxSeq());
    const against = await compareWithLog(reader, valid, maxSeq, state);
    problems.push(...against.problems);
    const trusted = against.trusted ?? { seq: 0, hash: GENESIS_HASH, by: 'genesis' };
    const result = initialResult({ options, storeId, picked, valid, trusted, problems });
    if (problems.length === 0) await recompute(store, result, { reader, trusted, options });
    return finish(result, {
      storeId,
      checkpointSeq: Math.max(valid.at(-1)?.seq ?? 0, state?.checkpointSeq ?? 0),
      now: options.now,
    });
  } finally {
    await reader.close();
  }
}

function initialResult(o: {
  options: VerifyCheckpointsOptions;
  storeId: string | undefined;
  picked: { relevant: number; toCheck: FoundCheckpoint[] };
  valid: SignedCheckpoint[];
  trusted: Trusted;
  problems: CheckpointProblem[];
}): CheckpointVerifyResult {
  const { options, storeId, picked, trusted, problems } = o;
  const newest = o.valid.at(-1);
  return {
    ok: false,
    mode: options.full ? 'full' : 'incremental',
    ...(storeId ? { store: storeId } : {}),
    source: describeTarget(options.source),
    checkpoints: {
      found: picked.relevant,
      checked: picked.toCheck.length,
      ...(newest ? { newest: { seq: newest.seq, head: newest.head, at: newest.at } } : {}),
    },
    from: { seq: trusted.seq, by: trusted.by },
    rows: 0,
    headSeq: trusted.seq,
    headHash: trusted.hash,
    problems,
  };
}

function finish(
  result: CheckpointVerifyResult,
  o: { storeId: string | undefined; checkpointSeq: number; now: (() => number) | undefined },
): CheckpointVerifyResult {
  result.problems.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  result.ok = result.problems.length === 0;
  if (!result.ok) result.firstBad = result.problems[0]!;
  else if (o.storeId)
    result.state = {
      v: 1,
      store: o.storeId,
      seq: result.headSeq,
      hash: result.headHash,
      checkpointSeq: o.checkpointSeq,
      at: new Date(o.now?.() ?? Date.now()).toISOString(),
    };
  return result;
}

/** Which checkpoints to read: all (full), or the newest and those newer than the state. */
function pickCheckpoints(
  found: FoundCheckpoint[],
  storeId: string | undefined,
  o: { full: boolean; state: VerifiedState | undefined },
): { toCheck: FoundCheckpoint[]; relevant: number; problems: CheckpointProblem[] } {
  const sorted = [...found].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  // An entry whose store cannot be told (no store field) is read, and fails as malformed.
  const relevant = sorted.filter((f) => f.store === undefined || f.store === storeId);
  if (found.length === 0)
    return {
      toCheck: [],
      relevant: 0,
      problems: [
        {
          kind: 'no-checkpoints',
          message:
            'no checkpoints found: nothing to verify the log against (is this the right directory or URL?)',
        },
      ],
    };
  if (!storeId || relevant.length === 0) {
    const others = [...new Set(found.map((f) => f.store).filter(Boolean))].join(', ');
    return {
      toCheck: [],
      relevant: 0,
      problems: [
        {
          kind: 'foreign-store',
          message: storeId
            ? `none of the ${found.length} checkpoint(s) is of this store (audit id ${storeId}; they are of ${others}): the wrong source, or the store's audit id was changed`
            : `the store has no audit id (meta ${AUDIT_STORE_ID}), yet ${found.length} checkpoint(s) exist (of ${others}): the id was deleted, or this is not the store they were made for`,
        },
      ],
    };
  }
  if (o.full) return { toCheck: relevant, relevant: relevant.length, problems: [] };
  const after = o.state?.checkpointSeq ?? Infinity;
  const newer = relevant.filter((f) => (f.seq ?? Infinity) > after);
  const toCheck = newer.length > 0 ? newer : [relevant.at(-1)!];
  return { toCheck, relevant: relevant.length, problems: [] };
}

/** Parses and authenticates one checkpoint document. */
async function checkDocument(
  f: FoundCheckpoint,
  storeId: string,
  publicKey: KeyObject,
): Promise<{ checkpoint: SignedCheckpoint } | { problem: CheckpointProblem }> {
  const at = f.seq === undefined ? {} : { seq: f.seq };
  const bad = (kind: CheckpointProblemKind, message: string) => ({
    problem: { kind, ...at, checkpoint: f.name, message: `checkpoint ${f.name}: ${message}` },
  });
  let doc: unknown;
  try {
    doc = await f.read();
  } catch (error) {
    return bad('malformed', `unreadable (${(error as Error).message})`);
  }
  const parsed = signedCheckpointSchema.safeParse(doc);
  if (!parsed.success)
    return bad('malformed', 'not a checkpoint document (fields missing or of the wrong type)');
  const c = parsed.data;
  if (f.seq !== undefined && c.seq !== f.seq)
    return bad('malformed', `its name says row ${f.seq} but it covers row ${c.seq}`);
  if (c.store !== storeId)
    return bad('malformed', `it is listed as this store's but names store ${c.store}`);
  if (!checkpointSignatureValid(c, publicKey)) {
    const expected = keyId(publicKey);
    return bad(
      'forged',
      c.keyId !== expected
        ? `forged or signed by another key: it names key ${c.keyId}, and its signature does not verify with the public key given (key ${expected})`
        : 'forged: its signature does not verify with the public key given',
    );
  }
  return { checkpoint: c };
}

/** Each authentic checkpoint's row must still be there with the signed hash. */
async function compareWithLog(
  reader: AuditReader,
  checkpoints: SignedCheckpoint[],
  maxSeq: number,
  state: VerifiedState | undefined,
): Promise<{ problems: CheckpointProblem[]; trusted?: Trusted }> {
  const problems: CheckpointProblem[] = [];
  let trusted: Trusted | undefined;
  let lastAgreeing: number | undefined;
  const claims: Array<{ seq: number; head: string; what: string; by: Trusted['by'] }> = [
    ...checkpoints.map((c) => ({
      seq: c.seq,
      head: c.head,
      what: `the checkpoint signed at ${c.at}`,
      by: 'checkpoint' as const,
    })),
    ...(state
      ? [
          {
            seq: state.seq,
            head: state.hash,
            what: `the last verified head (state file, ${state.at})`,
            by: 'state' as const,
          },
        ]
      : []),
  ].sort((a, b) => a.seq - b.seq);
  for (const claim of claims) {
    if (claim.seq > maxSeq) {
      if (!problems.some((p) => p.kind === 'truncated'))
        problems.push({
          kind: 'truncated',
          seq: maxSeq + 1,
          message: `the log ends at row ${maxSeq}, but ${claim.what} covers row ${claim.seq}: rows ${maxSeq + 1}–${claim.seq} were deleted`,
        });
      continue;
    }
    const row = await reader.rowAtOrBefore(claim.seq);
    const since =
      lastAgreeing === undefined
        ? ''
        : ` (row ${lastAgreeing} still agrees with its checkpoint, so the rewrite starts after it)`;
    if (!row || row[0] !== claim.seq) {
      problems.push({
        kind: 'truncated',
        seq: claim.seq,
        message: `row ${claim.seq}, covered by ${claim.what}, is missing: it was deleted${since}`,
      });
    } else if (row[1] !== claim.head) {
      if (!problems.some((p) => p.kind === 'rewritten'))
        problems.push({
          kind: 'rewritten',
          seq: claim.seq,
          message: `row ${claim.seq} has hash ${row[1]}, but ${claim.what} says ${claim.head}: the log was rewritten at or before row ${claim.seq} and re-chained${since}`,
        });
    } else {
      lastAgreeing = claim.seq;
      if (!trusted || claim.seq >= trusted.seq)
        trusted = { seq: claim.seq, hash: claim.head, by: claim.by };
    }
  }
  return { problems, ...(trusted ? { trusted } : {}) };
}

/** Recomputes the chain: all of it (full), or only the rows after the trusted head. */
async function recompute(
  store: VerifyStore,
  result: CheckpointVerifyResult,
  o: { reader: AuditReader; trusted: Trusted; options: VerifyCheckpointsOptions },
): Promise<void> {
  const chainProblem = (seq: number, message: string) =>
    result.problems.push({ kind: 'chain', seq, message });
  if (!o.options.full) {
    const range = await store.guard(async () =>
      scanAuditRange(o.reader, {
        startSeq: o.trusted.seq,
        startHash: o.trusted.hash,
        upTo: OPEN_END,
        chunkSize: 1024,
        allowSeqGaps: store.dialect !== 'sqlite',
      }),
    );
    if (!range.stopped) {
      Object.assign(result, { rows: range.rows, headSeq: range.lastSeq, headHash: range.lastHash });
      return;
    }
  }
  // Full, or the incremental scan stopped: the full verification names the first bad row.
  const chain = await verifyAuditChain(store, o.options.verify ?? {});
  Object.assign(result, {
    from: { seq: 0, by: 'genesis' },
    rows: chain.rows,
    headSeq: chain.headSeq,
    headHash: chain.headHash,
  });
  if (!chain.ok) chainProblem(chain.firstBad!.seq, chain.firstBad!.message);
}
