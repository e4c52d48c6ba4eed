// `rotor run --watch`: keeps the child's values in step with the store. A read-only connection
// of its own polls `PRAGMA data_version` (it moves only when another connection commits: a
// rotation, an emergency, a retire, from any process), and only then re-reads which versions are
// live; grace windows that end are noticed on the same tick. When the versions the child was
// given are no longer the ones Rotor would give it, the child is restarted (SIGTERM, wait,
// SIGKILL) or signalled after the new values are written to its values file.
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeliveredValue } from '../core/delivery/read-values.js';

/** How often the store is looked at: an emergency reaches the child well inside 2 s. */
export const WATCH_POLL_MS = 250;

/** What a delivery gave the child, as comparable text: each secret's stage and version id. */
export function deliveredSignature(values: readonly DeliveredValue[]): string {
  return values
    .filter((v) => v.carries === undefined || v.carries === 'value')
    .map((v) => `${v.secret}/${v.stage}/${v.versionId}`)
    .sort()
    .join('\n');
}

interface LiveRow {
  secret: string;
  id: string;
  stage: 'current' | 'previous';
  retire_at: number | null;
}

export interface StoreWatcher {
  /** The signature of what a delivery would give now (re-read only after the store changed). */
  signature(now: number): string;
  close(): void;
}

/** Watches the live versions of `secrets` in `environment` in the SQLite store at `file`. */
export async function watchStore(
  file: string,
  environment: string,
  secrets: readonly string[],
): Promise<StoreWatcher> {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 2000');
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const marks = secrets.map(() => '?').join(', ');
  const live = db.prepare<string[], LiveRow>(
    `SELECT secret, id, stage, retire_at FROM versions WHERE environment = ? AND secret IN (${marks || "''"}) AND stage IN ('current', 'previous') ORDER BY created_at DESC`,
  );
  let seen: number | undefined;
  let rows: LiveRow[] = [];
  return {
    signature(now) {
      const version = dataVersion.get()!;
      if (version !== seen) {
        rows = live.all(environment, ...secrets);
        seen = version;
      }
      const out: string[] = [];
      for (const name of secrets) {
        const current = rows.find((r) => r.secret === name && r.stage === 'current');
        if (!current) continue;
        out.push(`${name}/current/${current.id}`);
        const previous = rows.find(
          (r) =>
            r.secret === name &&
            r.stage === 'previous' &&
            r.retire_at !== null &&
            r.retire_at > now,
        );
        if (previous) out.push(`${name}/previous/${previous.id}`);
      }
      return out.sort().join('\n');
    },
    close() {
      db.close();
    },
  };
}

/**
 * The values file of `--on-change <signal>`: a private directory (0700) in the temp dir holding
 * `values.json` (0600), `{ "NAME": "value", … }` with the same variables the child's environment
 * got, rewritten atomically before each signal and removed when `rotor run` exits. The child
 * finds its path in ROTOR_RUN_VALUES_FILE.
 */
export interface ValuesFile {
  readonly path: string;
  write(values: readonly DeliveredValue[]): void;
  remove(): void;
}

export function createValuesFile(): ValuesFile {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-run-'));
  const path = join(dir, 'values.json');
  let serial = 0;
  const remove = () => rmSync(dir, { recursive: true, force: true });
  // process.exit (a second Ctrl-C, an error) skips finally blocks; this does not.
  process.once('exit', remove);
  return {
    path,
    write(values) {
      const out: Record<string, string> = {};
      for (const v of values) out[v.variable] = v.value;
      serial += 1;
      const tmp = join(dir, `.values-${serial}.json`);
      writeFileSync(tmp, `${JSON.stringify(out)}\n`, { mode: 0o600, flag: 'wx' });
      renameSync(tmp, path);
    },
    remove() {
      process.off('exit', remove);
      remove();
    },
  };
}
