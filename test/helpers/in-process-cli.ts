// The CLI run in-process against a fresh directory (no init, no apply), for tests of what init
// and the first commands do; and the built CLI's path, for tests that need a real process.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { runCli } from '../../src/cli/program.js';
import type { CliIo } from '../../src/cli/io.js';

export const MAIN = join(process.cwd(), 'dist', 'cli', 'main.js');

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

export function freshDir(prefix = 'rotor-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The environment a test's rotor runs with: no ROTOR_* of the host, a HOME of its own. */
export function cliEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ROTOR_OPERATOR: 'tester', PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', ...extra };
}

export async function cli(
  dir: string,
  argv: string[],
  stdin = '',
  env: NodeJS.ProcessEnv = {},
): Promise<Captured> {
  const stdout = new Sink();
  const stderr = new Sink();
  const input = new PassThrough() as PassThrough & { isTTY?: boolean };
  input.isTTY = false;
  input.end(stdin);
  const io: CliIo = { stdout, stderr, stdin: input, env: cliEnv(dir, env), cwd: dir };
  const code = await runCli(argv, { io });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Adds entries under `secrets:` in the rotor.yaml init wrote. */
export function addSecrets(dir: string, yaml: string): void {
  const file = join(dir, 'rotor.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('\nsecrets:\n', `\nsecrets:\n${yaml}`));
}

/** Inserts `yaml` right after the line of rotor.yaml that contains `anchor`. */
export function insertAfter(dir: string, anchor: string, yaml: string): void {
  const file = join(dir, 'rotor.yaml');
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes(anchor));
  if (at < 0) throw new Error(`no line with ${anchor} in rotor.yaml`);
  lines.splice(at + 1, 0, yaml.replace(/\n$/, ''));
  writeFileSync(file, lines.join('\n'));
}

/** Whether a process is running (a zombie waiting to be reaped counts as gone). */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
