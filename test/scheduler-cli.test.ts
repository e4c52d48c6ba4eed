import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createCommandContext } from '../src/cli/command-context.js';
import { schedulerCommand } from '../src/cli/commands/scheduler.js';
import type { CliIo } from '../src/cli/io.js';
import { reminderMessage } from '../src/core/notify/reminder-message.js';
import { createScheduler, type SchedulerReport } from '../src/core/scheduler/scheduler.js';
import { createProject, DAY } from './helpers/project.js';
import { BUILT } from './helpers/serve-process.js';

const POLICY = `version: 1
environments: [staging, production]
secrets:
  TOKEN:
    kind: random
    cadence: 30d
  PARTNER_KEY:
    kind: manual
    cadence: 30d
    environments: [production]
`;

async function dueProject() {
  const p = await createProject({ policy: POLICY });
  expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
  expect(
    (
      await p.cli(['import', 'PARTNER_KEY', '--env', 'production', '--rotated-at', '2026-01-01'], {
        stdin: 'partner-value-123',
      })
    ).code,
  ).toBe(0);
  p.clock.advance(30 * DAY);
  return p;
}

describe('rotor scheduler', { timeout: 60_000 }, () => {
  it('--once runs one tick and prints what it did', async () => {
    const p = await dueProject();
    const out = await p.cli(['scheduler', '--once']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(
      /^scheduler tick at 2026-01-31T00:00:00\.000Z {2}request [0-9a-f-]{36}\n/,
    );
    expect(out.stdout).toMatch(
      /rotated {4}TOKEN\/staging {2}version [0-9a-f-]{36} \(scheduled, attempt 1\)/,
    );
    expect(out.stdout).toMatch(/rotated {4}TOKEN\/production {2}version/);
    expect(out.stdout).toContain(
      'reminder   PARTNER_KEY/production  due-0d: no channel configured (rotor.yaml notify:)',
    );
    const again = await p.cli(['scheduler', '--once']);
    expect(again.stdout).not.toContain('rotated');
    // --once gives leadership back, so the next run acts at once.
    expect(again.stdout).not.toContain('another scheduler');
  });

  it('--once --json prints the report', async () => {
    const p = await dueProject();
    const out = await p.cli(['scheduler', '--once', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as SchedulerReport;
    expect(report.leader).toBe(true);
    expect(report.rotations.map((r) => [r.secret, r.environment, r.outcome])).toEqual([
      ['TOKEN', 'staging', 'rotated'],
      ['TOKEN', 'production', 'rotated'],
    ]);
    expect(report.reminders).toEqual([
      {
        secret: 'PARTNER_KEY',
        environment: 'production',
        slot: 'due-0d',
        channel: 'none',
        target: '',
        outcome: 'no-channel',
      },
    ]);
    expect(out.stdout).not.toContain('partner-value-123');
  });

  it('does nothing while another scheduler leads, and says so', async () => {
    const p = await dueProject();
    const leader = createScheduler({ rotor: p.rotor() });
    expect((await leader.tick()).leader).toBe(true);
    const out = await p.cli(['scheduler', '--once']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(
      /another scheduler is the leader \(process \d+ on .+, lease until 2026-01-31T00:05:00\.000Z\): nothing done/,
    );
    await leader.stop();
    expect((await p.cli(['scheduler', '--once'])).stdout).toContain('nothing to do');
  });

  it("reminds of Rotor's own master key (rotated with rotor master-key rotate), and rotor schema describes the new fields", async () => {
    const p = await createProject(); // rotor init's policy: ROTOR_MASTER_KEY, 365d
    p.clock.advance(365 * DAY);
    const out = await p.cli(['scheduler', '--once', '--json']);
    const report = JSON.parse(out.stdout) as SchedulerReport;
    expect(report.reminders).toContainEqual({
      secret: 'ROTOR_MASTER_KEY',
      environment: '*',
      slot: 'due-0d',
      channel: 'none',
      target: '',
      outcome: 'no-channel',
    });
    const schema = JSON.parse((await p.cli(['schema'])).stdout) as {
      properties: Record<string, { properties?: Record<string, unknown> }>;
    };
    expect(Object.keys(schema.properties.notify!.properties!)).toEqual([
      'email',
      'webhook',
      'reminders',
      'overdueEvery',
    ]);
    expect(Object.keys(schema.properties.scheduler!.properties!)).toEqual(['retries', 'backoff']);
  });

  it('reminder texts say what to run, and why the scheduler does not do it', () => {
    const common = {
      environment: '*',
      kind: 'master-key',
      owner: null,
      notes: null,
      instructions: null,
      slot: 'due-1d',
      dueAt: Date.UTC(2027, 0, 1),
      overdueAt: Date.UTC(2027, 0, 2),
      at: Date.UTC(2026, 11, 31),
    };
    const master = reminderMessage({ ...common, secret: 'ROTOR_MASTER_KEY', reason: 'master-key' });
    expect(master.subject).toBe('Rotor: ROTOR_MASTER_KEY is due in 1 day');
    expect(master.text).toContain('When done: rotor master-key rotate');
    const gaveUp = reminderMessage({
      ...common,
      secret: 'TOKEN',
      environment: 'production',
      kind: 'random',
      reason: 'gave-up',
      at: Date.UTC(2027, 0, 5),
    });
    expect(gaveUp.subject).toBe('Rotor: TOKEN (production) is OVERDUE');
    expect(gaveUp.text).toContain('the scheduler has given up');
    expect(gaveUp.text).toContain('When done: rotor rotate TOKEN --env production');
  });

  it('refuses a bad --interval', async () => {
    const p = await createProject();
    const out = await p.cli(['scheduler', '--interval', '0s']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('ERR_ROTOR_CLI_USAGE: --interval must be at least 1s');
    expect((await p.cli(['scheduler', '--interval', 'often'])).stderr).toContain(
      'invalid --interval "often"',
    );
  });

  it('without --once ticks until stopped, then waits for the tick and gives up leadership', async () => {
    const p = await dueProject();
    let printed = '';
    let sawTick: () => void = () => {};
    const ticked = new Promise<void>((resolve) => (sawTick = resolve));
    const stdout = new Writable({
      write(chunk: Buffer, _enc, cb) {
        printed += chunk.toString();
        if (printed.includes('rotated')) sawTick();
        cb();
      },
    });
    const stdin = new PassThrough();
    const io: CliIo = { stdout, stderr: new PassThrough(), stdin, env: p.env, cwd: p.dir };
    const ctx = createCommandContext(io, {}, { clock: p.clock });
    const code = await schedulerCommand(ctx, { interval: '1h' }, { until: ticked });
    await ctx.rotor.close();
    expect(code).toBe(0);
    expect(printed).toMatch(/^rotor scheduler: a tick every 1h; SIGINT or SIGTERM stops it\n/);
    expect(printed).toContain('rotated    TOKEN/production');
    expect(printed).toMatch(/rotor scheduler: stopped\n$/);
    const rotor = p.rotor();
    const store = await rotor.store();
    expect(await store.db.selectFrom('scheduler_leases').selectAll().execute()).toEqual([]);
    await rotor.close();
  });

  it('start() and stop() drive ticks on real timers; stop waits for the running tick', async () => {
    const p = await dueProject();
    const scheduler = createScheduler({ rotor: p.rotor() });
    const reports: SchedulerReport[] = [];
    const first = new Promise<void>((resolve) =>
      scheduler.start({ intervalMs: 3_600_000, onReport: (r) => (reports.push(r), resolve()) }),
    );
    expect(scheduler.running).toBe(true);
    expect(() => scheduler.start({ intervalMs: 3_600_000 })).toThrow(
      expect.objectContaining({ code: 'ERR_ROTOR_SCHEDULER_RUNNING' }),
    );
    await first;
    await scheduler.stop();
    expect(scheduler.running).toBe(false);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.rotations).toHaveLength(2);
    // Leadership was given back: another scheduler leads at once.
    const next = createScheduler({ rotor: p.rotor() });
    expect((await next.tick()).leader).toBe(true);
    await next.stop();
  });

  it('as a separate process: leads until SIGTERM (finishing its tick and letting go), and a SIGKILLed leader is taken over at once', async () => {
    const p = await createProject({ policy: POLICY });
    const start = (): Promise<{ child: ChildProcess; firstLine: string }> =>
      new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            BUILT,
            '--config',
            join(p.dir, 'rotor.yaml'),
            '--state-dir',
            join(p.dir, '.rotor'),
            'scheduler',
            '--interval',
            '1h',
            '--json',
          ],
          {
            env: { ...process.env, ...p.env },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve({ child, firstLine: out.split('\n')[0]! });
        });
        child.on('exit', (code) => reject(new Error(`scheduler exited early (${code})`)));
      });
    const exited = (child: ChildProcess) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
    const tickHere = async () => {
      const rotor = p.rotor();
      const scheduler = createScheduler({ rotor });
      try {
        return await scheduler.tick();
      } finally {
        await scheduler.stop();
        await rotor.close();
      }
    };

    const first = await start();
    expect((JSON.parse(first.firstLine) as SchedulerReport).leader).toBe(true);
    const blocked = await tickHere();
    expect(blocked.leader).toBe(false);
    expect(blocked.leaderHeldBy?.pid).toBe(first.child.pid);
    const done = exited(first.child);
    first.child.kill('SIGTERM');
    expect(await done).toEqual({ code: 0, signal: null });
    expect((await tickHere()).leader).toBe(true);

    const second = await start();
    expect((JSON.parse(second.firstLine) as SchedulerReport).leader).toBe(true);
    const killed = exited(second.child);
    second.child.kill('SIGKILL');
    expect((await killed).signal).toBe('SIGKILL');
    expect((await tickHere()).leader).toBe(true);
  });
});
