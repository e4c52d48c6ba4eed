// A private PostgreSQL cluster with real scram-sha-256 authentication for every connection:
// the machine's server trusts 127.0.0.1, where any password logs in, so tests about passwords
// start their own (initdb + pg_ctl on a spare port, as the postgres OS user when root).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Cluster {
  port: number;
  adminUrl: string;
  /** The server log (every DDL statement is logged). */
  log: string;
  stop(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** initdb + pg_ctl start with scram-sha-256 for every connection; as the postgres user when root. */
export async function startCluster(): Promise<Cluster> {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error(`no initdb under ${root}`);
  const bin = (name: string) => join(root, version, 'bin', name);
  const dir = mkdtempSync(join(tmpdir(), 'rotor-pg-'));
  const password = randomBytes(18).toString('base64url');
  writeFileSync(join(dir, 'pw'), `${password}\n`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(join(dir, 'pw'), uid, gid);
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' })
      : execFileSync(cmd, args, { stdio: 'pipe' });
  const port = await freePort();
  const data = join(dir, 'data');
  run(bin('initdb'), [
    '-D',
    data,
    '--auth=scram-sha-256',
    `--pwfile=${join(dir, 'pw')}`,
    '-U',
    'postgres',
    '--no-sync',
  ]);
  run(bin('pg_ctl'), [
    '-D',
    data,
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c log_statement=ddl`,
    '-l',
    join(dir, 'log'),
    '-w',
    'start',
  ]);
  return {
    port,
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    log: join(dir, 'log'),
    stop() {
      try {
        run(bin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
