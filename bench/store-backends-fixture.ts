// Shared set-up of the store-backend benches: a scratch PostgreSQL database (created and dropped
// with `pg`), and a project over SQLite or PostgreSQL with a rotated JWT secret and an app token.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotor, type Rotor } from '../src/core/context.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { ONE_JWT_POLICY, quietCli } from './bench-cli.js';

/** The server the benches use; ROTOR_BENCH_POSTGRES_URL names another (any database on it). */
const POSTGRES_URL =
  process.env.ROTOR_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const BACKENDS_POLICY = `${ONE_JWT_POLICY}  SESSION_SECRET:
    kind: random
    cadence: 90d
    config: { bytes: 32, encoding: base64url }
`;

export const BENCH_ACTOR: Actor = {
  operator: 'bench',
  requestId: '00000000-0000-4000-8000-000000000000',
  method: 'manual',
};

function databaseUrl(name: string): string {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(statement: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  client.on('error', () => undefined);
  await client.connect().catch((error: unknown) => {
    throw new Error(
      `the store-backend benches need PostgreSQL at ${new URL(POSTGRES_URL).host} (set ROTOR_BENCH_POSTGRES_URL): ${String(error)}`,
    );
  });
  try {
    await client.query(statement);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A new empty database on the bench server; `drop()` removes it. */
export async function scratchPostgres(
  tag: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rotor_${tag}_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE "${name}"`);
  return {
    url: databaseUrl(name),
    drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

export interface BenchProject {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** An app token granted every secret and environment. */
  token: string;
  rotor: Rotor;
  close(): Promise<void>;
}

/** A project over the store `extraEnv` names (SQLite without ROTOR_STORE_URL), set up for reads. */
export async function benchProject(extraEnv: NodeJS.ProcessEnv): Promise<BenchProject> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-store-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    ROTOR_OPERATOR: 'bench',
    ...extraEnv,
  };
  await quietCli(dir, ['init'], env);
  writeFileSync(join(dir, 'rotor.yaml'), BACKENDS_POLICY);
  await quietCli(dir, ['apply'], env);
  const rotor = createRotor({ cwd: dir, env, rotators: ROTATORS });
  const engine = createRotationEngine({ rotor });
  for (const secret of ['JWT_ACCESS_SECRET', 'SESSION_SECRET'])
    if (!(await engine.rotate(BENCH_ACTOR, { secret, method: 'manual' })).ok)
      throw new Error(`setup rotation of ${secret} failed`);
  const { token } = await createApiToken(await rotor.store(), rotor.clock, BENCH_ACTOR, {
    name: 'bench-app',
    role: 'app',
    secrets: ['*'],
    environments: ['*'],
  });
  return {
    dir,
    env,
    token,
    rotor,
    async close() {
      await rotor.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function machineLine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores`;
}
