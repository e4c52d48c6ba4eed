// TypeScript files the tests start as processes of their own (crash injection, concurrent
// writers), bundled once per run by esbuild (see test/setup/global-setup.ts). Starting them
// through tsx cost 2-3 s of CPU each (its loader thread resolves and compiles ~400 modules);
// a bundle of the same sources starts in a few hundred milliseconds.
import { join } from 'node:path';
import { ROOT } from './serve-process.js';

export const ENTRY_BUNDLE_DIR = join(ROOT, 'node_modules/.cache/rotor-test-entries');

/** Entry name → source, relative to the repository root. */
export const SPAWNED_ENTRIES = {
  'crash-rotate': 'test/fixtures/crash-rotate.ts',
  'append-audit': 'test/fixtures/append-audit.ts',
  'sign-in-reserver': 'test/helpers/sign-in-reserver.ts',
} as const;

/**
 * Modules worker threads load by URL; under the sources they would register tsx in each worker.
 * The audit verifier starts its workers from these bundles when ROTOR_DEV_WORKER_BUNDLES names
 * their folder (set by the global setup).
 */
export const WORKER_ENTRIES = {
  'audit-verify-worker': 'src/core/audit/audit-verify-worker.ts',
  'sqlite-audit-reader': 'src/core/store/sqlite-audit-reader.ts',
} as const;

export type SpawnedEntry = keyof typeof SPAWNED_ENTRIES;

/** The node arguments that run `entry`: its bundle (follow with the entry's own arguments). */
export function entryArgs(entry: SpawnedEntry): string[] {
  return [join(ENTRY_BUNDLE_DIR, `${entry}.mjs`)];
}
