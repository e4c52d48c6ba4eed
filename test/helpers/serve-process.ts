// `rotor serve` as a real child process (the CLI through tsx) for tests that need the server
// apart from the test process: another process's `rotor apply`, a proxy hop, a read-only store.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

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
 * `hostname`: run it in its own UTS namespace under that host name (root only, see
 * `canFakeHostname`), so it looks like an instance on another machine.
 */
export async function startServe(
  dir: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  options: { hostname?: string } = {},
): Promise<ServeProcess> {
  const node = [
    process.execPath,
    '--import',
    'tsx',
    MAIN,
    '-c',
    join(dir, 'rotor.yaml'),
    '--state-dir',
    join(dir, '.rotor'),
    'serve',
    '--port',
    '0',
    ...args,
  ];
  const [command, ...argv] = options.hostname
    ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', options.hostname, ...node]
    : node;
  const child = spawn(command!, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'tester', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Start-up through tsx takes 1-3 s on a quiet machine; a busy one gets a wide margin.
  const deadline = Date.now() + 60_000;
  while (!/listening on/.test(stdout) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 50));
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
