// Where signed checkpoints live: a directory (one file per checkpoint, written once, atomically,
// never overwritten) or an HTTP endpoint (POST one checkpoint as JSON; GET lists them). Reading
// returns raw documents: checkpoint-verify.ts decides what is valid.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RotorError } from '../errors.js';
import type { CheckpointTarget } from '../policy/checkpoint-schema.js';
import type { SignedCheckpoint } from './checkpoint-sign.js';

const HTTP_TIMEOUT_MS = 10_000;
const FILE_NAME = /^checkpoint-(\d{15})-([A-Za-z0-9-]{1,64})\.json$/;

export const signedCheckpointSchema = z.strictObject({
  v: z.literal(1),
  store: z.string().min(1).max(64),
  seq: z.number().int().min(1),
  head: z.string().regex(/^[0-9a-f]{64}$/),
  at: z.string().max(40),
  keyId: z.string().max(64),
  signature: z.string().max(200),
});

/** One checkpoint document as found in a source, before any check. */
export interface FoundCheckpoint {
  /** The file name or `URL#index`, for messages. */
  name: string;
  /** The seq the name promises (directory) or the document claims (HTTP), when readable. */
  seq?: number;
  /** Likewise the store's audit id. */
  store?: string;
  read(): Promise<unknown>;
}

export function checkpointFileName(c: Pick<SignedCheckpoint, 'store' | 'seq'>): string {
  return `checkpoint-${String(c.seq).padStart(15, '0')}-${c.store}.json`;
}

/** A URL without user info, for messages. */
export function describeTarget(target: CheckpointTarget): string {
  if ('dir' in target) return `dir:${target.dir}`;
  try {
    const u = new URL(target.url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return 'the checkpoint URL';
  }
}

function publishFailed(target: CheckpointTarget, why: string, cause?: unknown): RotorError {
  return new RotorError(
    'ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED',
    `cannot publish the audit checkpoint to ${describeTarget(target)}: ${why}`,
    { details: { target: describeTarget(target) }, ...(cause === undefined ? {} : { cause }) },
  );
}

/** Publishes one checkpoint; `exists` when that very checkpoint (store, seq, head) was there already. */
export async function publishToTarget(
  target: CheckpointTarget,
  checkpoint: SignedCheckpoint,
  options: { token?: string } = {},
): Promise<'published' | 'exists'> {
  return 'dir' in target
    ? publishToDir(target, checkpoint)
    : publishToUrl(target, checkpoint, options.token);
}

async function publishToDir(
  target: { dir: string },
  c: SignedCheckpoint,
): Promise<'published' | 'exists'> {
  const final = join(target.dir, checkpointFileName(c));
  const temp = join(target.dir, `.${checkpointFileName(c)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(target.dir, { recursive: true });
    const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      await file.writeFile(`${JSON.stringify(c, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    // link() never replaces an existing name: a published checkpoint is never overwritten.
    await link(temp, final);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw publishFailed(target, (error as Error).message, error);
    }
    const existing = signedCheckpointSchema.safeParse(
      JSON.parse(await readFile(final, 'utf8').catch(() => 'null')),
    );
    if (existing.success && existing.data.head === c.head) return 'exists';
    throw publishFailed(
      target,
      `${final} already holds a different checkpoint for row ${c.seq}: the chain at that row changed since it was signed`,
    );
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDir(target.dir);
  return 'published';
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some file systems cannot sync a directory; the file itself was synced.
  } finally {
    await handle.close();
  }
}

async function publishToUrl(
  target: { url: string },
  c: SignedCheckpoint,
  token: string | undefined,
): Promise<'published' | 'exists'> {
  let response: Response;
  try {
    response = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(c),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (error) {
    const why = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw publishFailed(target, `the request failed (${why})`, error);
  }
  await response.body?.cancel().catch(() => undefined);
  if (response.status === 409) return 'exists';
  if (!response.ok) throw publishFailed(target, `the endpoint answered HTTP ${response.status}`);
  return 'published';
}

function unreadable(source: string, why: string, cause?: unknown): RotorError {
  return new RotorError(
    'ERR_ROTOR_AUDIT_CHECKPOINT_SOURCE_UNREADABLE',
    `cannot read checkpoints from ${source}: ${why}`,
    { details: { source }, ...(cause === undefined ? {} : { cause }) },
  );
}

/** Every checkpoint document in `target` (a directory's files are read only when asked). */
export async function listCheckpoints(target: CheckpointTarget): Promise<FoundCheckpoint[]> {
  if ('dir' in target) {
    let names: string[];
    try {
      names = await readdir(target.dir);
    } catch (error) {
      throw unreadable(`dir:${target.dir}`, (error as Error).message, error);
    }
    return names.flatMap((name) => {
      const m = FILE_NAME.exec(name);
      if (!m) return [];
      const file = join(target.dir, name);
      return [
        {
          name,
          seq: Number(m[1]),
          store: m[2]!,
          read: async () => JSON.parse(await readFile(file, 'utf8')) as unknown,
        },
      ];
    });
  }
  const docs = await fetchCheckpoints(target.url);
  return docs.map((doc, i) => {
    const { seq, store } = (doc ?? {}) as { seq?: unknown; store?: unknown };
    return {
      name: `${describeTarget(target)}#${i}`,
      ...(typeof seq === 'number' ? { seq } : {}),
      ...(typeof store === 'string' ? { store } : {}),
      read: () => Promise.resolve(doc),
    };
  });
}

async function fetchCheckpoints(url: string): Promise<unknown[]> {
  const where = describeTarget({ url });
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (error) {
    const why = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw unreadable(where, `the request failed (${why})`, error);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw unreadable(where, `the endpoint answered HTTP ${response.status}`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  const list: unknown = Array.isArray(body)
    ? body
    : (body as { checkpoints?: unknown } | null)?.checkpoints;
  if (!Array.isArray(list))
    throw unreadable(where, 'expected a JSON array of checkpoints (or { "checkpoints": [...] })');
  return list as unknown[];
}
