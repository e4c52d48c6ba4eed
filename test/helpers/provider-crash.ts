// Crash-and-resume tests of the provider kinds run one rotation in a child process that SIGKILLs
// itself right after a journal point (test/fixtures/crash-rotate.ts), then check what
// `rotor resume` does at the provider. One spawner here so each kind's test says only where it
// crashes and what it expects afterwards.
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import type { TestProject } from './project.js';
import { entryArgs } from './spawned-entries.js';

/**
 * Rotates `secret` in production in a child process that is killed right after `point`.
 * `pass` lists, comma-separated, the environment variables of `p.env` the rotator reads (admin
 * keys); the child runs on `p`'s manual clock. Rejects if the child ends any other way.
 */
export function crashRotationAt(
  p: Pick<TestProject, 'dir' | 'clock' | 'env'>,
  point: string,
  secret: string,
  pass = '',
): Promise<void> {
  const args = [...entryArgs('crash-rotate'), p.dir, point, secret];
  args.push('production', 'normal', String(p.clock.now()), pass);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...p.env },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) =>
      signal === 'SIGKILL'
        ? resolve()
        : reject(new Error(`child exited without crashing at ${point}`)),
    );
  });
}

/** No value of `values` (undefined ones skipped) appears anywhere in `texts`. */
export function expectNoValues(texts: string[], values: Array<string | undefined>): void {
  const all = texts.join('\n');
  for (const v of values) if (v) expect(all).not.toContain(v);
}
