// `rotor status` and `rotor check`: states and their exact boundaries, precedence, the
// monitoring exit codes, --at, --json shapes and colour, against a real store in a temp dir.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import type { CliIo } from '../src/cli/io.js';
import { createManualClock } from '../src/core/clock.js';
import { createRotor, type Rotor } from '../src/core/context.js';
import { MASTER_KEY_ROTATED_AT } from '../src/core/crypto/master-key-names.js';
import type { MasterKey } from '../src/core/crypto/envelope.js';
import { setMeta, type Store } from '../src/core/store/open-store.js';
import type { RotationState, RotationStep, Stage } from '../src/core/store/schema.js';
import { evaluateCheck, worstStatus } from '../src/core/status/check.js';
import { computeStatus, STUCK_ROTATION_MS, type StatusReport } from '../src/core/status/status.js';
import { insertVersion } from '../src/core/vault/versions.js';
import { ROTATORS } from '../src/rotators/registry.js';

const DAY = 86_400_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
/** "Now" in most tests: well after init, so the master key (rotated at init) is 200 days old. */
const NOW = T0 + 200 * DAY;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/;

const APP_SECRETS = [
  'DATABASE_URL',
  'JWT_ACCESS_SECRET',
  'JWT_REFRESH_SECRET',
  'METRICS_AUTH_TOKEN',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'SMTP_PASSWORD',
  'TWILIO_AUTH_TOKEN',
];
const ENVS = ['staging', 'production'];

function capture(tty = false): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream: Writable & { isTTY?: boolean } = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  if (tty) stream.isTTY = true;
  return { stream, text: () => chunks.join('') };
}

interface Project {
  dir: string;
  clock: ReturnType<typeof createManualClock>;
  rotor: Rotor;
  store: Store;
  master: MasterKey;
  run(
    argv: string[],
    options?: { tty?: boolean; env?: NodeJS.ProcessEnv },
  ): Promise<{ code: number; out: string; err: string }>;
  version(
    secret: string,
    environment: string,
    v: { rotatedAt: number | null; stage?: Stage; retireAt?: number | null },
  ): Promise<string>;
  rotation(
    secret: string,
    environment: string,
    r: {
      state: RotationState;
      startedAt: number;
      updatedAt?: number;
      step?: RotationStep;
      errorCode?: string;
    },
  ): Promise<string>;
  status(options?: { at?: number; secret?: string; environment?: string }): Promise<StatusReport>;
  row(report: StatusReport, secret: string, environment: string): StatusReport['rows'][number];
}

let project: Project;
const cleanups: Array<() => Promise<void>> = [];

async function createProject(): Promise<Project> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-status-'));
  const clock = createManualClock(T0);
  const env: NodeJS.ProcessEnv = { ROTOR_OPERATOR: 'tester' };
  const run: Project['run'] = async (argv, options = {}) => {
    const out = capture(options.tty);
    const err = capture();
    const io: CliIo = {
      stdout: out.stream,
      stderr: err.stream,
      stdin: Readable.from([]),
      env: options.env ?? env,
      cwd: dir,
    };
    const code = await runCli(argv, { io, clock });
    return { code, out: out.text(), err: err.text() };
  };
  expect((await run(['init'])).code).toBe(0);
  expect((await run(['apply'])).code).toBe(0);
  const rotor = createRotor({ cwd: dir, env, clock, rotators: ROTATORS });
  const master = await rotor.masterKey();
  const store = await rotor.store();
  cleanups.push(async () => {
    await rotor.close();
    rmSync(dir, { recursive: true, force: true });
  });
  clock.set(NOW);
  const p: Project = {
    dir,
    clock,
    rotor,
    store,
    master,
    run,
    async version(secret, environment, v) {
      const id = randomUUID();
      await insertVersion(store.db, master, {
        id,
        secret,
        environment,
        stage: v.stage ?? 'current',
        origin: v.rotatedAt === null ? 'import' : 'generated',
        value: `test-value-${id}`,
        meta: {},
        now: v.rotatedAt ?? clock.now(),
        rotatedAt: v.rotatedAt,
        promotedAt: v.rotatedAt,
        rotationId: null,
      });
      if (v.retireAt !== undefined)
        await store.db
          .updateTable('versions')
          .set({ retire_at: v.retireAt })
          .where('id', '=', id)
          .execute();
      return id;
    },
    async rotation(secret, environment, r) {
      const id = randomUUID();
      const finished = r.state === 'running' ? null : (r.updatedAt ?? r.startedAt);
      await store.db
        .insertInto('rotations')
        .values({
          id,
          secret,
          environment,
          method: 'manual',
          operator: 'tester',
          request_id: randomUUID(),
          reason: null,
          state: r.state,
          step: r.step ?? 'verify',
          step_state: 'started',
          pending_version_id: null,
          started_at: r.startedAt,
          updated_at: r.updatedAt ?? r.startedAt,
          finished_at: finished,
          error_code: r.errorCode ?? null,
          error_message: r.errorCode ? 'test failure' : null,
        })
        .execute();
      return id;
    },
    status: (options = {}) => computeStatus(store, { now: clock.now(), ...options }),
    row(report, secret, environment) {
      const found = report.rows.find((r) => r.secret === secret && r.environment === environment);
      if (!found) throw new Error(`no row ${secret}/${environment}`);
      return found;
    },
  };
  return p;
}

/** Every application secret in every environment rotated `ageDays` ago. */
async function rotateAll(p: Project, ageDays: number): Promise<void> {
  for (const secret of APP_SECRETS)
    for (const env of ENVS) await p.version(secret, env, { rotatedAt: NOW - ageDays * DAY });
}

beforeEach(async () => {
  project = await createProject();
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('rotor status: states', () => {
  it('shows every secret × environment, plus one `*` row for the master key, from the store', async () => {
    const report = await project.status();
    expect(report.rows).toHaveLength(APP_SECRETS.length * ENVS.length + 1);
    expect(report.rows.filter((r) => r.environment === '*').map((r) => r.secret)).toEqual([
      'ROTOR_MASTER_KEY',
    ]);
    // Environments in policy order within each secret.
    expect(
      report.rows.filter((r) => r.secret === 'DATABASE_URL').map((r) => r.environment),
    ).toEqual(['staging', 'production']);
  });

  it('a secret never imported or rotated in an environment is unknown, and so is one imported without a date', async () => {
    await project.version('S3_ACCESS_KEY_ID', 'staging', { rotatedAt: null });
    const report = await project.status();
    expect(project.row(report, 'TWILIO_AUTH_TOKEN', 'production')).toMatchObject({
      state: 'unknown',
      ageMs: null,
      nextDueAt: null,
      currentSince: null,
    });
    const imported = project.row(report, 'S3_ACCESS_KEY_ID', 'staging');
    expect(imported).toMatchObject({ state: 'unknown', rotatedAt: null, ageMs: null });
    expect(imported.currentSince).not.toBeNull();
  });

  it('reports ok, due-soon, due, overdue, in-grace, rotating and failed', async () => {
    await project.version('JWT_ACCESS_SECRET', 'staging', { rotatedAt: NOW - 75 * DAY });
    await project.version('JWT_ACCESS_SECRET', 'production', { rotatedAt: NOW - 76 * DAY });
    await project.version('JWT_REFRESH_SECRET', 'staging', { rotatedAt: NOW - 90 * DAY });
    await project.version('JWT_REFRESH_SECRET', 'production', { rotatedAt: NOW - 91 * DAY });
    await project.version('METRICS_AUTH_TOKEN', 'staging', { rotatedAt: NOW - DAY });
    await project.version('METRICS_AUTH_TOKEN', 'staging', {
      rotatedAt: NOW - 170 * DAY,
      stage: 'previous',
      retireAt: NOW + 5 * DAY,
    });
    await project.version('METRICS_AUTH_TOKEN', 'production', { rotatedAt: NOW - 10 * DAY });
    await project.rotation('METRICS_AUTH_TOKEN', 'production', {
      state: 'running',
      startedAt: NOW - 2 * MIN,
      updatedAt: NOW - MIN,
    });
    await project.version('SMTP_PASSWORD', 'staging', { rotatedAt: NOW - 10 * DAY });
    await project.rotation('SMTP_PASSWORD', 'staging', {
      state: 'failed',
      startedAt: NOW - DAY,
      step: 'verify',
      errorCode: 'ERR_ROTOR_VERIFY_FAILED',
    });
    const report = await project.status();
    const state = (s: string, e: string) => project.row(report, s, e).state;
    expect(state('JWT_ACCESS_SECRET', 'staging')).toBe('ok');
    expect(state('JWT_ACCESS_SECRET', 'production')).toBe('due-soon');
    expect(state('JWT_REFRESH_SECRET', 'staging')).toBe('due');
    expect(state('JWT_REFRESH_SECRET', 'production')).toBe('overdue');
    expect(state('METRICS_AUTH_TOKEN', 'staging')).toBe('in-grace');
    expect(project.row(report, 'METRICS_AUTH_TOKEN', 'staging').graceUntil).toBe(NOW + 5 * DAY);
    expect(state('METRICS_AUTH_TOKEN', 'production')).toBe('rotating');
    expect(project.row(report, 'METRICS_AUTH_TOKEN', 'production').rotation).toMatchObject({
      state: 'running',
      stuck: false,
    });
    expect(state('SMTP_PASSWORD', 'staging')).toBe('failed');
    expect(project.row(report, 'SMTP_PASSWORD', 'staging').rotation).toMatchObject({
      state: 'failed',
      step: 'verify',
      errorCode: 'ERR_ROTOR_VERIFY_FAILED',
    });
    expect(state('ROTOR_MASTER_KEY', '*')).toBe('ok');
    expect(report.summary.byState).toMatchObject({
      ok: 2,
      'due-soon': 1,
      due: 1,
      overdue: 1,
      'in-grace': 1,
      rotating: 1,
      failed: 1,
      unknown: 9,
    });
    expect(report.summary.total).toBe(17);
  });

  it('computes age, next due and overdue dates from the current version, not from the previous one', async () => {
    await project.version('JWT_ACCESS_SECRET', 'staging', { rotatedAt: NOW - 10 * DAY });
    await project.version('JWT_ACCESS_SECRET', 'staging', {
      rotatedAt: NOW - 200 * DAY,
      stage: 'retired',
    });
    const row = project.row(await project.status(), 'JWT_ACCESS_SECRET', 'staging');
    expect(row).toMatchObject({
      ageMs: 10 * DAY,
      rotatedAt: NOW - 10 * DAY,
      dueSoonAt: NOW + 66 * DAY,
      nextDueAt: NOW + 80 * DAY,
      overdueAt: NOW + 81 * DAY,
      owner: null,
    });
  });
});

describe('rotor status: exact cadence boundaries', () => {
  it('a 90-day secret is due-soon from day 76, due on day 90 and overdue on day 91', async () => {
    const rotated = NOW - 400 * DAY;
    await project.version('JWT_ACCESS_SECRET', 'production', { rotatedAt: rotated });
    const at = async (ms: number) =>
      project.row(await project.status({ at: rotated + ms }), 'JWT_ACCESS_SECRET', 'production')
        .state;
    expect(await at(76 * DAY - 1)).toBe('ok');
    expect(await at(76 * DAY)).toBe('due-soon');
    expect(await at(90 * DAY - 1)).toBe('due-soon');
    expect(await at(90 * DAY)).toBe('due');
    expect(await at(91 * DAY - 1)).toBe('due');
    expect(await at(91 * DAY)).toBe('overdue');
  });

  it('the DB password is due from day 180 and overdue after day 365', async () => {
    const rotated = NOW - 500 * DAY;
    await project.version('DATABASE_URL', 'production', { rotatedAt: rotated });
    const at = async (ms: number) =>
      project.row(await project.status({ at: rotated + ms }), 'DATABASE_URL', 'production').state;
    expect(await at(166 * DAY - 1)).toBe('ok');
    expect(await at(166 * DAY)).toBe('due-soon');
    expect(await at(180 * DAY - 1)).toBe('due-soon');
    expect(await at(180 * DAY)).toBe('due');
    expect(await at(365 * DAY)).toBe('due');
    expect(await at(366 * DAY - 1)).toBe('due');
    expect(await at(366 * DAY)).toBe('overdue');
  });

  it('the master key ages from the store meta key and is overdue after 365 days', async () => {
    await setMeta(project.store.db, MASTER_KEY_ROTATED_AT, String(NOW - 365 * DAY));
    expect(project.row(await project.status(), 'ROTOR_MASTER_KEY', '*')).toMatchObject({
      state: 'due',
      ageMs: 365 * DAY,
      kind: 'master-key',
    });
    await setMeta(project.store.db, MASTER_KEY_ROTATED_AT, String(NOW - 366 * DAY));
    expect(project.row(await project.status(), 'ROTOR_MASTER_KEY', '*').state).toBe('overdue');
  });
});

describe('rotor status: precedence, grace and rotations', () => {
  it('failed beats rotating beats overdue, and the cadence state stays visible', async () => {
    await project.version('JWT_ACCESS_SECRET', 'staging', { rotatedAt: NOW - 100 * DAY });
    await project.rotation('JWT_ACCESS_SECRET', 'staging', {
      state: 'running',
      startedAt: NOW - MIN,
    });
    let row = project.row(await project.status(), 'JWT_ACCESS_SECRET', 'staging');
    expect(row).toMatchObject({ state: 'rotating', ageState: 'overdue' });
    await project.rotation('JWT_ACCESS_SECRET', 'production', {
      state: 'running',
      startedAt: NOW - 3 * MIN,
    });
    await project.rotation('JWT_ACCESS_SECRET', 'production', {
      state: 'failed',
      startedAt: NOW - 2 * MIN,
      errorCode: 'ERR_ROTOR_VERIFY_FAILED',
    });
    row = project.row(await project.status(), 'JWT_ACCESS_SECRET', 'production');
    expect(row).toMatchObject({ state: 'failed', ageState: 'unknown' });
  });

  it('a later successful rotation clears a failure; one that resume rolled back is a failure until the next success', async () => {
    await project.version('JWT_ACCESS_SECRET', 'staging', { rotatedAt: NOW - DAY });
    await project.rotation('JWT_ACCESS_SECRET', 'staging', {
      state: 'failed',
      startedAt: NOW - 2 * DAY,
      errorCode: 'ERR_ROTOR_VERIFY_FAILED',
    });
    await project.rotation('JWT_ACCESS_SECRET', 'staging', {
      state: 'succeeded',
      startedAt: NOW - DAY,
    });
    expect(project.row(await project.status(), 'JWT_ACCESS_SECRET', 'staging').state).toBe('ok');
    await project.rotation('JWT_ACCESS_SECRET', 'staging', {
      state: 'rolled_back',
      startedAt: NOW - MIN,
    });
    const row = project.row(await project.status(), 'JWT_ACCESS_SECRET', 'staging');
    expect(row.state).toBe('failed');
    expect(row.ageState).toBe('ok');
    expect(row.rotation?.state).toBe('rolled_back');
    await project.rotation('JWT_ACCESS_SECRET', 'staging', { state: 'succeeded', startedAt: NOW });
    expect(project.row(await project.status(), 'JWT_ACCESS_SECRET', 'staging').state).toBe('ok');
  });

  it('a running rotation is stuck once it has not advanced for more than 15 minutes', async () => {
    expect(STUCK_ROTATION_MS).toBe(15 * MIN);
    await project.version('SMTP_PASSWORD', 'staging', { rotatedAt: NOW - DAY });
    await project.rotation('SMTP_PASSWORD', 'staging', {
      state: 'running',
      startedAt: NOW - 30 * MIN,
      updatedAt: NOW - 15 * MIN,
    });
    let report = await project.status();
    expect(project.row(report, 'SMTP_PASSWORD', 'staging').rotation?.stuck).toBe(false);
    project.clock.advance(1);
    report = await project.status();
    expect(project.row(report, 'SMTP_PASSWORD', 'staging')).toMatchObject({
      state: 'rotating',
      rotation: { stuck: true },
    });
    expect(report.summary.stuck).toBe(1);
  });

  it('an open grace window shows even when the secret is also due', async () => {
    await project.version('JWT_REFRESH_SECRET', 'production', { rotatedAt: NOW - 90 * DAY });
    await project.version('JWT_REFRESH_SECRET', 'production', {
      rotatedAt: NOW - 200 * DAY,
      stage: 'previous',
      retireAt: NOW + 3 * DAY,
    });
    const report = await project.status();
    expect(project.row(report, 'JWT_REFRESH_SECRET', 'production')).toMatchObject({
      state: 'due',
      graceUntil: NOW + 3 * DAY,
    });
    expect(report.summary.inGrace).toBe(1);
    const { out } = await project.run([
      'status',
      '--secret',
      'JWT_REFRESH_SECRET',
      '--env',
      'production',
    ]);
    expect(out).toContain('GRACE UNTIL');
    expect(out).toMatch(/JWT_REFRESH_SECRET\s+production\s+due\s+90d\s+.*2026-07-23 00:00Z/);
    // Once the window has passed it is no longer open.
    expect(
      project.row(await project.status({ at: NOW + 3 * DAY }), 'JWT_REFRESH_SECRET', 'production')
        .graceUntil,
    ).toBeNull();
  });
});

describe('rotor status: command', () => {
  it('prints a padded table without colour off a terminal, and with colour on one', async () => {
    await rotateAll(project, 80);
    const plain = await project.run(['status']);
    expect(plain.code).toBe(0);
    expect(plain.out).not.toMatch(ANSI);
    const lines = plain.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^SECRET\s+ENV\s+STATE\s+AGE\s+CURRENT SINCE\s+NEXT DUE\s+OVERDUE FROM\s+GRACE UNTIL\s+ROTATION\s+OWNER$/,
    );
    expect(
      lines.find((l) => l.startsWith('JWT_ACCESS_SECRET') && l.includes('production')),
    ).toMatch(
      /^JWT_ACCESS_SECRET\s+production\s+due-soon\s+80d\s+2026-05-01\s+2026-07-30\s+2026-07-31$/,
    );
    // Every column starts at the same offset on every row.
    const stateColumn = lines[0]!.indexOf('STATE');
    for (const line of lines.slice(1, 18))
      expect(line.slice(stateColumn - 2, stateColumn)).toBe('  ');
    expect(lines.at(-1)).toBe(
      '17 secret×environment rows: 13 ok, 4 due soon (at 2026-07-20T00:00:00.000Z)',
    );
    const tty = await project.run(['status'], { tty: true });
    expect(tty.out).toMatch(ANSI);
    const noColor = await project.run(['status'], {
      tty: true,
      env: { ROTOR_OPERATOR: 'tester', NO_COLOR: '1' },
    });
    expect(noColor.out).not.toMatch(ANSI);
  });

  it('--json gives the summary and one object per row', async () => {
    await project.version('JWT_ACCESS_SECRET', 'staging', { rotatedAt: NOW - 91 * DAY });
    await project.rotation('JWT_ACCESS_SECRET', 'staging', {
      state: 'running',
      startedAt: NOW - 20 * MIN,
    });
    const { code, out } = await project.run(['status', '--json']);
    expect(code).toBe(0);
    const parsed = JSON.parse(out) as {
      at: string;
      summary: { total: number; byState: Record<string, number> };
      rows: Record<string, unknown>[];
    };
    expect(parsed.at).toBe(new Date(NOW).toISOString());
    expect(parsed.summary).toMatchObject({ total: 17, stuck: 1, inGrace: 0 });
    expect(parsed.rows).toHaveLength(17);
    const row = parsed.rows.find(
      (r) => r.secret === 'JWT_ACCESS_SECRET' && r.environment === 'staging',
    );
    expect(row).toEqual({
      secret: 'JWT_ACCESS_SECRET',
      kind: 'jwt-hmac',
      environment: 'staging',
      state: 'rotating',
      ageState: 'overdue',
      owner: null,
      rotatedAt: new Date(NOW - 91 * DAY).toISOString(),
      currentSince: new Date(NOW - 91 * DAY).toISOString(),
      ageMs: 91 * DAY,
      ageDays: 91,
      dueSoonAt: new Date(NOW - 15 * DAY).toISOString(),
      nextDueAt: new Date(NOW - DAY).toISOString(),
      overdueAt: new Date(NOW).toISOString(),
      graceUntil: null,
      rotation: {
        id: expect.any(String),
        state: 'running',
        step: 'verify',
        startedAt: new Date(NOW - 20 * MIN).toISOString(),
        updatedAt: new Date(NOW - 20 * MIN).toISOString(),
        finishedAt: null,
        errorCode: null,
        stuck: true,
      },
    });
  });

  it('--secret and --env filter; the master key row applies to every environment', async () => {
    const { out } = await project.run(['status', '--env', 'production', '--json']);
    const rows = (JSON.parse(out) as { rows: { secret: string; environment: string }[] }).rows;
    expect(new Set(rows.map((r) => r.environment))).toEqual(new Set(['production', '*']));
    expect(rows).toHaveLength(APP_SECRETS.length + 1);
    const one = JSON.parse(
      (await project.run(['status', '--secret', 'DATABASE_URL', '--json'])).out,
    ) as { rows: { environment: string }[] };
    expect(one.rows.map((r) => r.environment)).toEqual(['staging', 'production']);
  });

  it('an unknown --secret or --env is a clear error naming it', async () => {
    const secret = await project.run(['status', '--secret', 'NOPE']);
    expect(secret.code).toBe(1);
    expect(secret.err).toContain('ERR_ROTOR_SECRET_UNKNOWN');
    expect(secret.err).toContain('"NOPE"');
    const env = await project.run(['status', '--env', 'qa', '--json']);
    expect(env.code).toBe(1);
    expect(JSON.parse(env.out)).toMatchObject({
      error: { code: 'ERR_ROTOR_ENV_UNKNOWN', details: { environment: 'qa' } },
    });
    expect((JSON.parse(env.out) as { error: { message: string } }).error.message).toBe(
      'unknown environment "qa": configured are staging, production',
    );
  });

  it('reads the store, not rotor.yaml', async () => {
    unlinkSync(join(project.dir, 'rotor.yaml'));
    const { code, out } = await project.run(['status', '--json']);
    expect(code).toBe(0);
    expect((JSON.parse(out) as { rows: unknown[] }).rows).toHaveLength(17);
  });
});

describe('rotor check', () => {
  it('exits with the plugin codes, the worst state winning: CRITICAL > WARNING > UNKNOWN > OK', async () => {
    // Fresh project: every application secret is unknown, the master key is ok.
    let r = await project.run(['check']);
    expect(r.code).toBe(3);
    expect(r.out.split('\n')[0]).toBe(
      'ROTOR UNKNOWN - 16 unknown | rows=17 ok=1 due_soon=0 due=0 overdue=0 failed=0 stuck=0 rotating=0 unknown=16 in_grace=0',
    );

    await rotateAll(project, 1);
    r = await project.run(['check']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'ROTOR OK - 17 of 17 secret×environment rows ok | rows=17 ok=17 due_soon=0 due=0 overdue=0 failed=0 stuck=0 rotating=0 unknown=0 in_grace=0\n',
    );

    const setAge = (secret: string, env: string, rotatedAt: number | null) =>
      project.store.db
        .updateTable('versions')
        .set({ rotated_at: rotatedAt })
        .where('secret', '=', secret)
        .where('environment', '=', env)
        .execute();
    await setAge('TWILIO_AUTH_TOKEN', 'staging', null);
    expect((await project.run(['check'])).code).toBe(3);
    await setAge('JWT_ACCESS_SECRET', 'staging', NOW - 80 * DAY);
    r = await project.run(['check']);
    expect(r.code).toBe(1);
    expect(r.out.split('\n')[0]).toMatch(/^ROTOR WARNING - 1 due soon; UNKNOWN - 1 unknown \| /);
    await setAge('JWT_ACCESS_SECRET', 'production', NOW - 90 * DAY);
    await setAge('DATABASE_URL', 'production', NOW - 366 * DAY);
    await project.rotation('SMTP_PASSWORD', 'production', {
      state: 'failed',
      startedAt: NOW - DAY,
      errorCode: 'ERR_ROTOR_VERIFY_FAILED',
    });
    r = await project.run(['check']);
    expect(r.code).toBe(2);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'ROTOR CRITICAL - 1 overdue, 1 failed; WARNING - 1 due, 1 due soon; UNKNOWN - 1 unknown | rows=17 ok=12 due_soon=1 due=1 overdue=1 failed=1 stuck=0 rotating=0 unknown=1 in_grace=0',
    );
    expect(lines.slice(1)).toEqual([
      'CRITICAL: DATABASE_URL/production overdue since 2026-07-20 (age 366d)',
      expect.stringMatching(
        /^CRITICAL: SMTP_PASSWORD\/production rotation [0-9a-f-]+ failed at verify \(ERR_ROTOR_VERIFY_FAILED\)$/,
      ),
      'WARNING: JWT_ACCESS_SECRET/staging due on 2026-07-30 (age 80d)',
      'WARNING: JWT_ACCESS_SECRET/production due since 2026-07-20 (age 90d)',
      'UNKNOWN: TWILIO_AUTH_TOKEN/staging last rotation date unknown',
    ]);
  });

  it('a stuck rotation is CRITICAL; a healthy one keeps the cadence state', async () => {
    await rotateAll(project, 1);
    await project.rotation('SMTP_PASSWORD', 'staging', {
      state: 'running',
      startedAt: NOW - 2 * MIN,
    });
    expect((await project.run(['check'])).code).toBe(0);
    project.clock.advance(20 * MIN);
    const r = await project.run(['check']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^ROTOR CRITICAL - 1 stuck rotation \| .* stuck=1 rotating=1 /);
    expect(r.out).toContain('run `rotor resume`');
  });

  it('--at answers what will be due on that date (the end of that day, UTC)', async () => {
    await rotateAll(project, 1);
    // Rotated on 2026-07-19: a 90-day secret is due on 2026-10-17 (day 90), due soon from 2026-10-03.
    expect((await project.run(['check', '--at', '2026-10-02'])).code).toBe(0);
    const soon = await project.run(['check', '--at', '2026-10-03']);
    expect(soon.code).toBe(1);
    expect(soon.out).toMatch(/^ROTOR WARNING - 4 due soon \(as of 2026-10-03T23:59:59\.999Z\) \| /);
    expect((await project.run(['check', '--at', '2026-10-17'])).code).toBe(1);
    expect((await project.run(['check', '--at', '2026-10-18T00:00:00Z'])).code).toBe(2);
    expect((await project.run(['check', '--at', '2026-10-17T23:00:00-02:00'])).code).toBe(2);
    // The clock did not move: without --at all is still well.
    expect((await project.run(['check'])).code).toBe(0);
  });

  it('--json gives the status, code, counts and every problem', async () => {
    await rotateAll(project, 1);
    await project.store.db
      .updateTable('versions')
      .set({ rotated_at: NOW - 100 * DAY })
      .where('secret', '=', 'JWT_ACCESS_SECRET')
      .execute();
    const { code, out } = await project.run(['check', '--json']);
    expect(code).toBe(2);
    const parsed = JSON.parse(out) as Record<string, unknown>;
    expect(parsed).toEqual({
      status: 'CRITICAL',
      code: 2,
      summary: expect.stringMatching(/^ROTOR CRITICAL - 2 overdue \| /),
      at: new Date(NOW).toISOString(),
      counts: {
        overdue: 2,
        failed: 0,
        stuck: 0,
        due: 0,
        'due-soon': 0,
        unknown: 0,
        ok: 15,
        rows: 17,
      },
      problems: [
        {
          secret: 'JWT_ACCESS_SECRET',
          environment: 'staging',
          problem: 'overdue',
          status: 'CRITICAL',
          detail: 'overdue since 2026-07-11 (age 100d)',
        },
        {
          secret: 'JWT_ACCESS_SECRET',
          environment: 'production',
          problem: 'overdue',
          status: 'CRITICAL',
          detail: 'overdue since 2026-07-11 (age 100d)',
        },
      ],
    });
  });

  it('a bad --at is ERR_ROTOR_DATE_INVALID naming the value, and check exits 3 UNKNOWN', async () => {
    for (const bad of ['tomorrow', '2026-02-30', '2026-13-01', '2026-06-01T25:00']) {
      const r = await project.run(['check', '--at', bad]);
      expect(r.code).toBe(3);
      expect(r.err).toContain('ERR_ROTOR_DATE_INVALID');
      expect(r.err).toContain(`"${bad}"`);
    }
    const status = await project.run(['status', '--at', 'nope', '--json']);
    expect(status.code).toBe(1);
    expect(JSON.parse(status.out)).toMatchObject({
      error: { code: 'ERR_ROTOR_DATE_INVALID', details: { value: 'nope' } },
    });
  });

  it('an internal error exits 3 UNKNOWN, never OK', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'rotor-status-empty-'));
    cleanups.push(async () => rmSync(empty, { recursive: true, force: true }));
    const err = capture();
    const io: CliIo = {
      stdout: capture().stream,
      stderr: err.stream,
      stdin: Readable.from([]),
      env: { ROTOR_OPERATOR: 'tester' },
      cwd: empty,
    };
    expect(await runCli(['check'], { io })).toBe(3);
    expect(err.text()).toContain('ERR_ROTOR_STORE_NOT_INITIALIZED');
  });

  it('worst-wins ranks CRITICAL over WARNING over UNKNOWN over OK', () => {
    expect(worstStatus('OK', 'UNKNOWN')).toBe('UNKNOWN');
    expect(worstStatus('UNKNOWN', 'WARNING')).toBe('WARNING');
    expect(worstStatus('WARNING', 'CRITICAL')).toBe('CRITICAL');
    expect(worstStatus('CRITICAL', 'UNKNOWN')).toBe('CRITICAL');
    expect(
      evaluateCheck({
        at: NOW,
        rows: [],
        summary: {
          total: 0,
          byState: {
            ok: 0,
            'due-soon': 0,
            due: 0,
            overdue: 0,
            unknown: 0,
            'in-grace': 0,
            rotating: 0,
            failed: 0,
          },
          inGrace: 0,
          stuck: 0,
        },
      }).status,
    ).toBe('UNKNOWN');
  });
});
