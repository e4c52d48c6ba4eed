// Test helpers: a temporary Rotor project, the CLI run in-process with captured output, and a
// Rotor instance over the same directory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll } from 'vitest';
import { createManualClock, type Clock } from '../../src/core/clock.js';
import { createRotor, type Rotor } from '../../src/core/context.js';
import type { AnyRotator } from '../../src/core/rotator/rotator-contract.js';
import { runCli } from '../../src/cli/program.js';
import type { CliIo } from '../../src/cli/io.js';
import { ROTATORS } from '../../src/rotators/registry.js';

export const DAY = 86_400_000;

// A project directory holds a master key: every one this file made is deleted once the test file
// that imported it has finished (registered at import, so it runs after the file's own hooks).
const projectDirs = new Set<string>();
afterAll(() => {
  for (const dir of projectDirs) rmSync(dir, { recursive: true, force: true });
  projectDirs.clear();
});

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

class Sink extends Writable {
  text = '';
  isTTY: boolean;
  constructor(tty = false) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

export interface TestProject {
  dir: string;
  clock: ReturnType<typeof createManualClock>;
  env: NodeJS.ProcessEnv;
  cli(
    args: string[],
    options?: { stdin?: string; tty?: boolean; env?: NodeJS.ProcessEnv },
  ): Promise<Captured>;
  rotor(rotators?: readonly AnyRotator[], clock?: Clock): Rotor;
  writePolicy(yaml: string): void;
}

export async function createProject(
  /** `env`: extra variables for every command, e.g. ROTOR_STORE_URL from store-backends.ts. */
  options: { policy?: string; start?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<TestProject> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-test-'));
  projectDirs.add(dir);
  const clock = createManualClock(options.start ?? Date.UTC(2026, 0, 1));
  const env: NodeJS.ProcessEnv = {
    ROTOR_OPERATOR: 'tester',
    PATH: process.env.PATH,
    HOME: dir,
    NO_COLOR: '1',
    ...options.env,
  };
  const project: TestProject = {
    dir,
    clock,
    env,
    async cli(args, o = {}) {
      const stdout = new Sink(o.tty);
      const stderr = new Sink();
      const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
      stdin.isTTY = false;
      stdin.end(o.stdin ?? '');
      const io: CliIo = { stdout, stderr, stdin, env: { ...env, ...o.env }, cwd: dir };
      const code = await runCli(args, { io, clock });
      return { code, stdout: stdout.text, stderr: stderr.text };
    },
    rotor(rotators = ROTATORS, c = clock) {
      return createRotor({ cwd: dir, env, rotators, clock: c });
    },
    writePolicy(yaml) {
      writeFileSync(join(dir, 'rotor.yaml'), yaml);
    },
  };
  const init = await project.cli(['init']);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  if (options.policy) project.writePolicy(options.policy);
  const apply = await project.cli(['apply']);
  if (apply.code !== 0) throw new Error(`apply failed: ${apply.stderr}`);
  return project;
}
