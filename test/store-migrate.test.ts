// `rotor store migrate --to postgres://…`: a SQLite store copied into an empty PostgreSQL
// database reads the same (status, values under the same master key), its audit chain verifies
// there and matches the source up to the copy, both sides record `store.migrated`, and a
// non-empty target, a password on argv or another kind of URL are refused with nothing changed.
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../src/core/audit/audit-log.js';
import { openStore } from '../src/core/store/open-store.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';

const postgres = await requireService('postgres');
const drops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const drop of drops.splice(0)) await drop();
});

async function scratch(): Promise<string> {
  const db = await createScratchDatabase('mig');
  drops.push(() => db.drop());
  return db.url;
}

async function auditRows(env: NodeJS.ProcessEnv, p: TestProject) {
  const store = await openStore({ stateDir: `${p.dir}/.rotor`, env });
  try {
    return await store.db
      .selectFrom('audit_events')
      .select(['seq', 'entry', 'hash'])
      .orderBy('seq')
      .execute();
  } finally {
    await store.close();
  }
}

async function rotatedProject(): Promise<TestProject> {
  const p = await createProject();
  expect((await p.cli(['rotate', 'JWT_ACCESS_SECRET'])).code).toBe(0);
  p.clock.advance(3 * DAY);
  expect((await p.cli(['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging'])).code).toBe(0);
  expect((await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'production'])).code).toBe(0);
  return p;
}

describe.skipIf(!postgres.available)('rotor store migrate', { timeout: 180_000 }, () => {
  it('copies a SQLite store to PostgreSQL: same status and values, and the chain verifies there', async () => {
    const p = await rotatedProject();
    const url = await scratch();
    const pgEnv = { ROTOR_STORE_URL: url };
    const statusBefore = await p.cli(['status', '--json']);
    const valueBefore = await p.cli(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']);

    const migrated = await p.cli(['store', 'migrate', '--to', url, '--json']);
    expect(migrated.code, migrated.stderr).toBe(0);
    const result = JSON.parse(migrated.stdout) as {
      tables: Record<string, number>;
      headSeq: number;
    };
    expect(result.tables.versions).toBeGreaterThanOrEqual(4);

    const status = await p.cli(['status', '--json'], { env: pgEnv });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual(JSON.parse(statusBefore.stdout));
    const value = await p.cli(['get', 'JWT_ACCESS_SECRET', '--env', 'staging'], { env: pgEnv });
    expect(value.code, value.stderr).toBe(0);
    expect(value.stdout).toBe(valueBefore.stdout);
    const verify = await p.cli(['audit', 'verify', '--json'], { env: pgEnv });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    // The chains are the same row for row up to the copy, then each side says what happened.
    const source = await auditRows({}, p);
    const target = await auditRows(pgEnv, p);
    expect(target.slice(0, result.headSeq)).toEqual(source.slice(0, result.headSeq));
    // Row headSeq + 1 on each side (the target has since recorded the reads above, too).
    const [mine, theirs] = [source[result.headSeq]!, target[result.headSeq]!].map(
      (r) => JSON.parse(r.entry) as AuditEntry,
    );
    expect(source).toHaveLength(result.headSeq + 1);
    expect(mine).toMatchObject({ action: 'store.migrated', outcome: 'success' });
    expect(mine!.notes).toContain(new URL(url).host);
    expect(theirs).toMatchObject({ action: 'store.migrated', outcome: 'success' });
    expect(theirs!.details).toMatchObject({ headSeq: result.headSeq });

    // The target takes new work: a rotation through ROTOR_STORE_URL appends after the copy.
    const rotate = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'], {
      env: pgEnv,
    });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect((await p.cli(['audit', 'verify'], { env: pgEnv })).code).toBe(0);
  });

  it('refuses a target that already holds data, changing neither store', async () => {
    const p = await rotatedProject();
    const url = await scratch();
    expect((await p.cli(['store', 'migrate', '--to', url])).code).toBe(0);
    const [source, target] = [await auditRows({}, p), await auditRows({ ROTOR_STORE_URL: url }, p)];

    const again = await p.cli(['store', 'migrate', '--to', url]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('ERR_ROTOR_STORE_TARGET_NOT_EMPTY');
    expect(again.stderr).toContain('already holds data');
    expect(await auditRows({}, p)).toEqual(source);
    expect(await auditRows({ ROTOR_STORE_URL: url }, p)).toEqual(target);
  });

  it('refuses a password on argv and a URL that is not PostgreSQL, before opening anything', async () => {
    const p = await createProject();
    const before = await auditRows({}, p);
    const withPassword = await p.cli([
      'store',
      'migrate',
      '--to',
      'postgres://rotor:hunter2@127.0.0.1:5432/rotor',
    ]);
    expect(withPassword.code).not.toBe(0);
    expect(withPassword.stderr).toContain('ERR_ROTOR_VALUE_ON_ARGV');
    expect(withPassword.stderr).not.toContain('hunter2');
    const mysql = await p.cli(['store', 'migrate', '--to', 'mysql://root@127.0.0.1/rotor']);
    expect(mysql.stderr).toContain('ERR_ROTOR_STORE_URL_INVALID');
    expect(await auditRows({}, p)).toEqual(before);
  });

  it('names an unreachable target without its password', async () => {
    const p = await createProject();
    const refused = await p.cli(
      ['store', 'migrate', '--to', 'postgres://rotor@127.0.0.1:1/rotor'],
      {
        env: { PGPASSWORD: 'hunter2' },
      },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('ERR_ROTOR_STORE_UNAVAILABLE');
    expect(refused.stderr).toContain('postgres://rotor@127.0.0.1:1/rotor');
    expect(refused.stderr).not.toContain('hunter2');
  });
});
