// `rotor audit verify`: recomputes the hash chain and names the first row that was tampered with;
// a bulk reader (and worker threads) find the break, the portable Kysely path explains it.
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { chainHash, GENESIS_HASH } from './audit-log.js';
import { CANONICAL_ENTRY_SHAPE, entryProblem } from './audit-query.js';
import { OPEN_END, scanAuditRange, type RangeResult } from './audit-verify-range.js';
import type { WorkerReply, WorkerRequest } from './audit-verify-worker.js';
import type { AuditReaderSource, Store } from '../store/open-store.js';

export const AUDIT_PROBLEMS = ['edited', 'deleted', 'inserted', 'reordered', 'malformed'] as const;
export type AuditProblem = (typeof AUDIT_PROBLEMS)[number];

export interface AuditFirstBad {
  /** The first row that is not part of the original chain (for `deleted`, the first missing seq). */
  seq: number;
  problem: AuditProblem;
  message: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Rows checked and found intact (when not ok: the intact rows before the first bad one). */
  rows: number;
  /** Seq of the last intact row (the chain head when ok); 0 for an empty log. */
  headSeq: number;
  /** Hash of the last intact row (the chain head when ok); GENESIS_HASH for an empty log. */
  headHash: string;
  firstBad?: AuditFirstBad;
  /** Worker threads that shared the scan; absent when it ran on the calling thread. */
  threads?: number;
}

export interface AuditAnchor {
  /** A seq recorded earlier, e.g. a previous verify's headSeq. */
  seq: number;
  /** The hash that row had then. */
  hash: string;
}

export interface VerifyAuditOptions {
  /**
   * Rows per query, large enough to amortise the query and small enough for the young GC
   * generation. Default 4096 for portable queries, 1024 for a bulk reader (a little faster
   * there; 256–2048 measure the same).
   */
  chunkSize?: number;
  /**
   * Whether a gap in seq with an intact chain is acceptable. SQLite's AUTOINCREMENT never
   * leaves gaps (a rolled-back insert rolls back the counter), so there a gap means deleted
   * rows; PostgreSQL sequences do leave gaps. Default: false for SQLite, true otherwise.
   */
  allowSeqGaps?: boolean;
  /** A head recorded earlier: the log must still contain this row with this hash. */
  anchor?: AuditAnchor;
  /**
   * Threads for a large log (default: the available parallelism, at most 8), each checking one
   * range of seqs on its own connection. Only where the store's reader can be opened from a
   * worker thread (SQLite); 1 keeps the whole scan on the calling thread.
   */
  threads?: number;
  /**
   * Use threads only when the highest seq exceeds this (default 100,000): below it, starting
   * a worker (~50 ms) costs more than it saves.
   */
  parallelThreshold?: number;
}

type VerifyStore = Pick<Store, 'db' | 'guard' | 'dialect' | 'auditReader'>;
interface Row {
  seq: number;
  entry: string;
  hash: string;
}

const DEFAULT_CHUNK = 4096;
const DEFAULT_READER_CHUNK = 1024;
const DEFAULT_PARALLEL_THRESHOLD = 100_000;
const MAX_THREADS = 8;

/**
 * Recomputes the audit chain and reports the first row that breaks it.
 *
 * @example
 * const result = await verifyAuditChain(store);
 * if (!result.ok) console.error(`row ${result.firstBad!.seq} was ${result.firstBad!.problem}`);
 */
export async function verifyAuditChain(
  store: VerifyStore,
  options: VerifyAuditOptions = {},
): Promise<AuditVerifyResult> {
  const allowSeqGaps = options.allowSeqGaps ?? store.dialect !== 'sqlite';
  const { anchor } = options;
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  let rows = 0;
  let anchorSeen = false;
  let threads: number | undefined;
  const done = (result: AuditVerifyResult): AuditVerifyResult =>
    threads === undefined ? result : { ...result, threads };
  const fail = (firstBad: AuditFirstBad): AuditVerifyResult =>
    done({ ok: false, rows, headSeq: prevSeq, headHash: prevHash, firstBad });

  // The fast path finds the last intact row; the portable loop below resumes after it.
  let complete = false;
  if (store.auditReader) {
    const fast = await scanWithReader(store, store.auditReader, { ...options, allowSeqGaps });
    ({ rows, lastSeq: prevSeq, lastHash: prevHash, anchorSeen } = fast.result);
    threads = fast.threads;
    complete = !fast.result.stopped;
  }

  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  while (!complete) {
    const chunk = await readChunk(store, prevSeq, chunkSize);
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const row = chunk[i]!;
      if (
        row.seq !== prevSeq + 1 ||
        chainHash(prevHash, row.entry) !== row.hash ||
        !CANONICAL_ENTRY_SHAPE.test(row.entry)
      ) {
        const bad = await diagnose(
          store,
          row,
          { seq: prevSeq, hash: prevHash },
          { allowSeqGaps, chunkSize },
        );
        if (bad) return fail(bad);
      }
      if (anchor && row.seq === anchor.seq) {
        if (row.hash !== anchor.hash) return fail(anchorRewritten(row, anchor));
        anchorSeen = true;
      }
      prevSeq = row.seq;
      prevHash = row.hash;
      rows++;
    }
    complete = n < chunkSize;
  }
  if (anchor && !anchorSeen) return fail(anchorMissing(anchor, prevSeq));
  return done({ ok: true, rows, headSeq: prevSeq, headHash: prevHash });
}

/** Up to `size` rows after `seq`, in order. */
function readChunk(store: VerifyStore, seq: number, size: number): Promise<Row[]> {
  return store.guard(() =>
    store.db
      .selectFrom('audit_events')
      .select(['seq', 'entry', 'hash'])
      .where('seq', '>', seq)
      .orderBy('seq')
      .limit(size)
      .execute(),
  );
}

/** The anchored row is there with another hash: the log was rewritten and re-chained. */
function anchorRewritten(row: Row, anchor: AuditAnchor): AuditFirstBad {
  return {
    seq: row.seq,
    problem: 'edited',
    message: `row ${row.seq} has hash ${row.hash}, not the anchored ${anchor.hash}: the log was rewritten from this row or earlier and re-chained`,
  };
}

/** The chain checked out but never reached the anchored row: rows were deleted. */
function anchorMissing(anchor: AuditAnchor, lastSeq: number): AuditFirstBad {
  return {
    seq: anchor.seq > lastSeq ? lastSeq + 1 : anchor.seq,
    problem: 'deleted',
    message:
      anchor.seq > lastSeq
        ? `the log ends at row ${lastSeq} but the anchor names row ${anchor.seq}: rows from ${lastSeq + 1} on were deleted`
        : `the anchored row ${anchor.seq} is missing`,
  };
}

type ScanOptions = Omit<VerifyAuditOptions, 'allowSeqGaps'> & { allowSeqGaps: boolean };

/** The fast path: the whole log through the dialect's bulk reader, on this thread or split over worker threads. */
async function scanWithReader(
  store: VerifyStore,
  source: AuditReaderSource,
  options: ScanOptions,
): Promise<{ result: RangeResult; threads?: number }> {
  const chunkSize = options.chunkSize ?? DEFAULT_READER_CHUNK;
  const { allowSeqGaps, anchor } = options;
  const wanted = Math.floor(options.threads ?? Math.min(availableParallelism(), MAX_THREADS));
  const reader = await store.guard(async () => source.open());
  try {
    const maxSeq = await store.guard(async () => reader.maxSeq());
    const threads = Math.min(wanted, maxSeq);
    if (
      source.remote &&
      threads > 1 &&
      maxSeq > (options.parallelThreshold ?? DEFAULT_PARALLEL_THRESHOLD)
    ) {
      const requests: WorkerRequest[] = [];
      for (let i = 0; i < threads; i++) {
        const after = Math.round((maxSeq * i) / threads);
        const upTo = i === threads - 1 ? OPEN_END : Math.round((maxSeq * (i + 1)) / threads);
        requests.push({
          remote: source.remote,
          after,
          upTo,
          chunkSize,
          allowSeqGaps,
          ...(anchor ? { anchor } : {}),
        });
      }
      const results = await store.guard(() => runWorkers(requests));
      return { result: mergeRanges(results), threads };
    }
    const result = await store.guard(() =>
      scanAuditRange(reader, {
        startSeq: 0,
        startHash: GENESIS_HASH,
        upTo: OPEN_END,
        chunkSize,
        allowSeqGaps,
        ...(anchor ? { anchor } : {}),
      }),
    );
    return { result };
  } finally {
    await reader.close();
  }
}

/**
 * Joins consecutive ranges: each must start on the row the one before it ended on (true unless
 * the log changed between the workers' reads). Stops at the first range that stopped, or at
 * such a seam, so the portable path takes over from the last row known to be intact.
 */
function mergeRanges(results: RangeResult[]): RangeResult {
  let merged: RangeResult = {
    startSeq: 0,
    startHash: GENESIS_HASH,
    rows: 0,
    lastSeq: 0,
    lastHash: GENESIS_HASH,
    anchorSeen: false,
    stopped: false,
  };
  for (const r of results) {
    if (r.startSeq !== merged.lastSeq || r.startHash !== merged.lastHash)
      return { ...merged, stopped: true };
    merged = {
      ...merged,
      rows: merged.rows + r.rows,
      lastSeq: r.lastSeq,
      lastHash: r.lastHash,
      anchorSeen: merged.anchorSeen || r.anchorSeen,
      stopped: r.stopped,
    };
    if (r.stopped) break;
  }
  return merged;
}

const SELF = import.meta.url;

/**
 * Test runs bundle the worker and the store reader it opens once per run (test/setup/global-setup.ts
 * names the folder): a worker that registers tsx costs about a second of CPU.
 */
function startBundledWorker(request: WorkerRequest, dir: string): Worker {
  const bundle = (name: string) => pathToFileURL(join(dir, name.replace(/\.ts$/, '.mjs')));
  const module = bundle(basename(fileURLToPath(request.remote.module))).href;
  return new Worker(bundle('audit-verify-worker.ts'), {
    workerData: { ...request, remote: { ...request.remote, module } },
    execArgv: [],
  });
}

function startWorker(request: WorkerRequest): Worker {
  if (SELF.endsWith('.ts')) {
    const bundles = process.env.ROTOR_DEV_WORKER_BUNDLES;
    if (bundles) return startBundledWorker(request, bundles);
    // Running from the TypeScript sources (vitest, tsx): a worker does not inherit the parent's
    // module loader, and tsx's `--import` entry registers on the main thread only, so the
    // worker registers tsx through its API first (a dev dependency, present wherever the sources run).
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./audit-verify-worker.ts', SELF).href;
    return new Worker(
      `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`,
      { eval: true, workerData: request },
    );
  }
  // The compiled worker needs none of the parent's flags (a development loader would only slow its start).
  return new Worker(new URL('./audit-verify-worker.js', SELF), {
    workerData: request,
    execArgv: [],
  });
}

/** Runs one worker per request; a worker's driver error is rethrown with its code, for `guard` to map. */
async function runWorkers(requests: WorkerRequest[]): Promise<RangeResult[]> {
  const workers: Worker[] = [];
  try {
    return await Promise.all(
      requests.map(
        (request) =>
          new Promise<RangeResult>((resolve, reject) => {
            const worker = startWorker(request);
            workers.push(worker);
            worker.once('message', (reply: WorkerReply) => {
              if (reply.ok) resolve(reply.result);
              else
                reject(
                  Object.assign(
                    new Error(reply.message),
                    reply.code === undefined ? {} : { code: reply.code },
                  ),
                );
            });
            worker.once('error', reject);
            worker.once('exit', (code) =>
              reject(new Error(`an audit verify worker exited (code ${code}) before reporting`)),
            );
          }),
      ),
    );
  } finally {
    for (const worker of workers) void worker.terminate();
  }
}

const where = (seq: number) => (seq === 0 ? 'the start of the log' : `row ${seq}`);

function deleted(from: number, to: number, row: Row, rechained: boolean): AuditFirstBad {
  const missing = from === to ? `row ${from} is missing` : `rows ${from}–${to} are missing`;
  return {
    seq: from,
    problem: 'deleted',
    message: rechained
      ? `${missing}: deleted, and the rows after it were re-chained to hide it (row ${row.seq} chains on ${where(from - 1)})`
      : `${missing}: deleted (row ${row.seq} does not chain on ${where(from - 1)})`,
  };
}

/** The slow path: explains why `row` did not follow the row before it, or accepts it (undefined). */
async function diagnose(
  store: VerifyStore,
  row: Row,
  prev: { seq: number; hash: string },
  options: { allowSeqGaps: boolean; chunkSize: number },
): Promise<AuditFirstBad | undefined> {
  const { seq: prevSeq, hash: prevHash } = prev;
  const { allowSeqGaps, chunkSize } = options;
  const linked = chainHash(prevHash, row.entry) === row.hash;
  const gap = row.seq !== prevSeq + 1;
  if (linked) {
    if (gap && !allowSeqGaps) return deleted(prevSeq + 1, row.seq - 1, row, true);
    const problem = entryProblem(row.entry);
    if (problem)
      return { seq: row.seq, problem: 'malformed', message: `row ${row.seq}'s entry ${problem}` };
    return undefined;
  }
  if (gap && !allowSeqGaps) return deleted(prevSeq + 1, row.seq - 1, row, false);

  // Which row's hash does this row's own hash chain on? A later row: rows were moved. An
  // earlier one than the row before it: the rows in between were not in the original chain.
  const base = await findBase(store, row, chunkSize);
  if (base !== undefined && base > row.seq) {
    return {
      seq: row.seq,
      problem: 'reordered',
      message: `row ${row.seq} is out of order: it chains on row ${base}, which now comes after it (rows were swapped or moved)`,
    };
  }
  if (base !== undefined) {
    const first = await store.guard(() =>
      store.db
        .selectFrom('audit_events')
        .select('seq')
        .where('seq', '>', base)
        .orderBy('seq')
        .limit(1)
        .executeTakeFirstOrThrow(),
    );
    return {
      seq: first.seq,
      problem: 'inserted',
      message: `row ${first.seq} was inserted: row ${row.seq} chains directly on ${where(base)}, so ${first.seq === row.seq - 1 ? `row ${first.seq}` : `rows ${first.seq}–${row.seq - 1}`} between them were not in the original chain`,
    };
  }
  if (gap) return deleted(prevSeq + 1, row.seq - 1, row, false);
  const next = await store.guard(() =>
    store.db
      .selectFrom('audit_events')
      .select(['seq', 'entry', 'hash'])
      .where('seq', '>', row.seq)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst(),
  );
  if (next && chainHash(prevHash, next.entry) === next.hash) {
    return {
      seq: row.seq,
      problem: 'inserted',
      message: `row ${row.seq} was inserted: it does not chain on ${where(prevSeq)}, and row ${next.seq} after it chains on ${where(prevSeq)} directly`,
    };
  }
  return {
    seq: row.seq,
    problem: 'edited',
    message: `row ${row.seq} was edited: its hash does not match its entry chained on ${where(prevSeq)} (the entry or the hash was changed)`,
  };
}

/** The seq of the row whose stored hash `row` chains on (0 for the genesis hash), if any. */
async function findBase(
  store: VerifyStore,
  row: Row,
  chunkSize: number,
): Promise<number | undefined> {
  if (chainHash(GENESIS_HASH, row.entry) === row.hash) return 0;
  let cursor = 0;
  for (;;) {
    const after = cursor;
    const candidates = await store.guard(() =>
      store.db
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(chunkSize)
        .execute(),
    );
    for (const c of candidates)
      if (c.seq !== row.seq && chainHash(c.hash, row.entry) === row.hash) return c.seq;
    if (candidates.length < chunkSize) return undefined;
    cursor = candidates[candidates.length - 1]!.seq;
  }
}
