// Shared set-up for benches that drive a project through the CLI in-process: the one-secret
// policy they serve reads of, and `rotor <args>` run quietly (output discarded, failure thrown
// with its stderr).
import { PassThrough, Writable } from 'node:stream';
import { runCli } from '../src/cli/program.js';

export const ONE_JWT_POLICY = `version: 1
environments: [production]
secrets:
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
    config: { algorithm: HS256 }
`;

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

/**
 * `rotor <args>` in `dir`, stdout discarded; a failure throws with what it wrote to stderr.
 * `env` defaults to a bare environment with HOME in `dir`.
 */
export async function quietCli(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'bench' },
): Promise<void> {
  const stdin = new PassThrough();
  stdin.end();
  let err = '';
  const stderr = new Writable({
    write: (c: Buffer, _e, cb) => {
      err += c.toString();
      cb();
    },
  });
  const code = await runCli(args, { io: { stdout: sink(), stderr, stdin, env, cwd: dir } });
  if (code !== 0) throw new Error(`rotor ${args.join(' ')} failed (${code}): ${err}`);
}
