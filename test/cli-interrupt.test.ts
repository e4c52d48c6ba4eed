// Ctrl-C during a rotation (issue 11 §3), with a real `rotor` process, a real deploy hook that
// starts a child of its own, and a real SIGINT.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  cli,
  cliEnv,
  freshDir,
  insertAfter,
  MAIN,
  processRunning,
} from './helpers/in-process-cli.js';

const HOOK = [
  '    deploy:',
  '      - name: slow deploy',
  '        timeout: 10m',
  // Slow only the first time (the interrupted run); `rotor resume` may run it again.
  '        command: ["sh", "-c", "if [ -e slow ]; then rm slow; sleep 600 & echo $! > child.pid; echo $$ > hook.pid; wait; fi"]',
  '',
].join('\n');

async function until(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function rotationStates(dir: string): Promise<string[]> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dir, '.rotor', 'rotor.db'), { readonly: true });
  try {
    return (
      db.prepare('SELECT state FROM rotations ORDER BY started_at').all() as { state: string }[]
    ).map((r) => r.state);
  } finally {
    db.close();
  }
}

describe('Ctrl-C during a rotation', () => {
  it('stops the deploy hook and its children, keeps the journal resumable, prints the resume hint and exits 130', async () => {
    const dir = freshDir('rotor-interrupt-');
    expect((await cli(dir, ['init'])).code).toBe(0);
    insertAfter(dir, 'config: { bytes: 32, encoding: base64url }', HOOK);
    const applied = await cli(dir, ['apply']);
    expect(applied.code, applied.stderr).toBe(0);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'slow'), '');

    const rotor = spawn(
      process.execPath,
      [MAIN, 'rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'],
      {
        cwd: dir,
        env: cliEnv(dir),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    rotor.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((done) => rotor.once('exit', (code) => done(code)));
    // `echo $$ > hook.pid` creates the file before it writes the pid: wait for the number.
    const pidIn = (name: string) =>
      existsSync(join(dir, name)) ? Number(readFileSync(join(dir, name), 'utf8')) : 0;
    await until('the deploy hook to start its child', () => pidIn('hook.pid') > 0);
    const hookPid = pidIn('hook.pid');
    const childPid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    expect(processRunning(hookPid) && processRunning(childPid)).toBe(true);

    rotor.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('interrupted (SIGINT)');
    expect(stderr).toContain('stopped 1 hook process group(s)');
    expect(stderr).toContain('the rotation of METRICS_AUTH_TOKEN in staging was interrupted');
    expect(stderr).toContain('rotor resume');
    await until(
      'the hook and its child to be gone',
      () => !processRunning(hookPid) && !processRunning(childPid),
      10_000,
    );
    expect(await rotationStates(dir)).toEqual(['running']);

    const resumed = await cli(dir, ['resume']);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    // The rotation had passed verify (the deploy hook runs after promote): resume finishes it.
    expect(await rotationStates(dir)).toEqual(['succeeded']);
    expect(resumed.stdout).toContain('METRICS_AUTH_TOKEN');
  }, 120_000);
});
