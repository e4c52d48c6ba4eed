// `rotor serve` as a real child process (the built CLI, as a user runs it) for tests that need
// the server apart from the test process: another process's `rotor apply`, a proxy hop, a
// read-only store, several instances on one store. Also what such tests share: polling for a
// condition, raw SSE connections, the CLI's command line on another host.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: the working directory of the processes started here. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI (kept fresh by test/setup/global-setup.ts): what a user runs. */
export const BUILT = join(ROOT, 'dist/cli/main.js');

export interface CliProcessOptions {
  /**
   * Run it in its own UTS namespace under this host name (root only, see `canFakeHostname`), so
   * it looks like a process on another machine.
   */
  hostname?: string;
}

/**
 * The command line of `rotor -c <dir>/rotor.yaml --state-dir <dir>/.rotor <args>`, command first,
 * for `spawn` with `cwd: ROOT`.
 */
export function rotorCommand(
  dir: string,
  args: string[],
  options: CliProcessOptions = {},
): [string, ...string[]] {
  const node = [
    process.execPath,
    BUILT,
    '-c',
    join(dir, 'rotor.yaml'),
    '--state-dir',
    join(dir, '.rotor'),
    ...args,
  ];
  return options.hostname
    ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', options.hostname, ...node]
    : [node[0]!, ...node.slice(1)];
}

/** Polls `ok` every `everyMs` until it holds; throws naming `what` after `ms`. */
export async function waitFor(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 120_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ServeProcess {
  base: string;
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `rotor serve --port 0` over `dir` (rotor.yaml and .rotor/) and waits until it listens.
 * `options`: another host name (see `CliProcessOptions`).
 */
export async function startServe(
  dir: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  options: CliProcessOptions = {},
): Promise<ServeProcess> {
  const [command, ...argv] = rotorCommand(dir, ['serve', '--port', '0', ...args], options);
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'tester', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Start-up takes well under a second on a quiet machine; a busy one gets a wide margin.
  await waitFor(
    'rotor serve to listen',
    () => /listening on/.test(stdout) || child.exitCode !== null,
    90_000,
    50,
  ).catch(() => undefined);
  const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stdout);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`rotor serve did not start\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  return {
    base: m[1]!,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Sends `signal` (default SIGKILL) unless it has exited already, and waits for the exit. */
export async function killServe(
  s: ServeProcess | undefined,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = once(s.child, 'exit');
  s.child.kill(signal);
  await exited;
}

export interface EventStream {
  /** Everything received so far, as text. */
  text(): string;
  /** Settles when the connection closes (the server ended it, or `close`). */
  ended: Promise<void>;
  close(): void;
}

/** A raw SSE connection to `<url>/v1/events` on its own socket, authenticated with `token`. */
export function events(url: string, token: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = httpGet(
      `${url}/v1/events`,
      { agent: false, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', () => undefined);
        const ended = new Promise<void>((done) => res.on('close', () => done()));
        resolve({ text: () => text, ended, close: () => req.destroy() });
      },
    );
    req.on('error', reject);
  });
}

/** Whether `startServe(…, { hostname })` can work here: `unshare --uts` needs root. */
export function canFakeHostname(): boolean {
  const r = spawnSync('unshare', ['--uts', 'sh', '-c', 'hostname rotor-probe && hostname'], {
    encoding: 'utf8',
  });
  return r.status === 0 && r.stdout.trim() === 'rotor-probe';
}

/** An admin token and an app token granted every secret and environment, made with the CLI. */
export async function adminAndAppTokens(project: {
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}): Promise<{ admin: string; app: string }> {
  const create = async (args: string[]) => {
    const r = await project.cli(['token', 'create', ...args]);
    if (r.code !== 0) throw new Error(`rotor token create failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  const admin = await create(['--name', 'admin', '--role', 'admin']);
  const app = await create(['--name', 'app', '--role', 'app', '--secret', '*', '--env', '*']);
  return { admin, app };
}
