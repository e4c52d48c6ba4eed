// The two store backends as one list, so a suite runs over both the way Kysely tests its
// dialects: `forEachBackend((backend) => { it(…, async () => { const env = await backend.freshStore(); … }) })`.
// SQLite: the project's own file. PostgreSQL: a new database per call (CREATE DATABASE with a
// unique name), all dropped after the file's tests. PostgreSQL is the machine's server at
// 127.0.0.1:5432; without it the PostgreSQL half fails under CI=true and is skipped loudly otherwise.
import { randomBytes } from 'node:crypto';
import { afterAll, describe } from 'vitest';
import { requireService, SERVICE_URLS } from './services.js';

export type BackendName = 'sqlite' | 'postgres';

export interface StoreBackend {
  name: BackendName;
  /**
   * Environment variables that point a project at a new, empty store of this backend
   * (`{}` for SQLite: the project's `.rotor/rotor.db`).
   */
  freshStore(): Promise<NodeJS.ProcessEnv>;
}

const postgres = await requireService('postgres');

/** A URL naming database `name` on the test server (same host, user and options). */
export function postgresDatabaseUrl(name: string): string {
  const url = new URL(SERVICE_URLS.postgres);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(statement: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: postgresDatabaseUrl('postgres') });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates an empty database with a unique name; `drop()` removes it (and ends its sessions). */
export async function createScratchDatabase(
  tag: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `rotor_${tag.replace(/[^a-z0-9]/g, '')}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  return {
    name,
    url: postgresDatabaseUrl(name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

function postgresBackend(): StoreBackend {
  const made: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of made.splice(0)) await drop();
  });
  return {
    name: 'postgres',
    async freshStore() {
      const db = await createScratchDatabase('t');
      made.push(() => db.drop());
      return { ROTOR_STORE_URL: db.url };
    },
  };
}

const sqliteBackend: StoreBackend = { name: 'sqlite', freshStore: async () => ({}) };

/** Defines `suite` once per backend, in a describe named after it. */
export function forEachBackend(suite: (backend: StoreBackend) => void): void {
  describe('sqlite', () => suite(sqliteBackend));
  describe.skipIf(!postgres.available)('postgres', () => suite(postgresBackend()));
}
