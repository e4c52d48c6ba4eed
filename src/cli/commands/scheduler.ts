// `rotor scheduler [--once] [--interval 60s] [--json]`: the scheduler on its own (`rotor serve`
// runs the same one). `--once` runs one tick and prints what it did (for cron, or to look);
// without it, ticks every interval until SIGINT or SIGTERM, then finishes the running tick and
// gives up leadership before returning (main.ts exits).
import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { errorInfo, RotorError } from '../../core/errors.js';
import { createScheduler, type SchedulerReport } from '../../core/scheduler/scheduler.js';
import type { CommandContext } from '../command-context.js';
import { print, type CliIo } from '../io.js';
import type { Wrap } from '../program.js';

export interface SchedulerOptions {
  once?: boolean;
  interval?: string;
  json?: boolean;
}

export const DEFAULT_INTERVAL = '60s';

export function parseInterval(text: string | undefined, flag = '--interval'): number {
  let ms: number;
  try {
    ms = parseDuration(text ?? DEFAULT_INTERVAL);
  } catch (cause) {
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `invalid ${flag} "${text}": use a duration such as 30s, 5m, 1h`,
      { cause },
    );
  }
  if (ms < 1000)
    throw new RotorError('ERR_ROTOR_CLI_USAGE', `${flag} must be at least 1s (got "${text}")`);
  return ms;
}

/** True when the tick left something for a person: a failed rotation or delivery, a phase that could not run. */
export function reportHasFailures(report: SchedulerReport): boolean {
  return (
    report.errors.length > 0 ||
    report.rotations.some((r) => r.outcome === 'failed' || r.outcome === 'gave-up') ||
    report.reminders.some((r) => r.outcome === 'failed')
  );
}

/** One line per thing the tick did; empty when it did nothing. */
export function reportLines(report: SchedulerReport): string[] {
  if (!report.leader) {
    const by = report.leaderHeldBy;
    return [
      `another scheduler is the leader${by ? ` (process ${by.pid} on ${by.host}, lease until ${by.until})` : ''}: nothing done`,
    ];
  }
  const lines: string[] = [];
  const pair = (s: string, e: string) => (e === '*' ? s : `${s}/${e}`);
  for (const r of report.resumed)
    lines.push(`resumed    ${pair(r.secret, r.environment)}  ${r.action}: ${r.detail}`);
  for (const r of report.retired)
    lines.push(
      `${r.postponed ? 'postponed ' : 'retired   '} ${pair(r.secret, r.environment)}  version ${r.versionId}${r.postponed ? ' (still in use; tried again next tick)' : ''}`,
    );
  for (const r of report.rotations) {
    const head = {
      rotated: 'rotated   ',
      standby: 'standby   ',
      failed: 'failed    ',
      'gave-up': 'gave up   ',
    }[r.outcome];
    const what =
      r.outcome === 'rotated' || r.outcome === 'standby'
        ? `version ${r.versionId ?? '?'} (scheduled, attempt ${r.attempt})`
        : `attempt ${r.attempt}: ${r.error?.code}: ${r.error?.message}${r.nextAttemptAt ? `; next attempt from ${r.nextAttemptAt}` : '; no more automatic attempts: rotate it by hand'}`;
    lines.push(`${head} ${pair(r.secret, r.environment)}  ${what}`);
  }
  for (const w of report.waiting)
    lines.push(
      `waiting    ${pair(w.secret, w.environment)}  ${w.reason}${w.until ? ` until ${w.until}` : ''}: ${w.detail}`,
    );
  for (const r of report.reminders) {
    if (r.outcome === 'no-channel')
      lines.push(
        `reminder   ${pair(r.secret, r.environment)}  ${r.slot}: no channel configured (rotor.yaml notify:)`,
      );
    else if (r.outcome === 'sent')
      lines.push(
        `reminded   ${pair(r.secret, r.environment)}  ${r.slot} by ${r.channel} to ${r.target}`,
      );
    else
      lines.push(
        `remind failed ${pair(r.secret, r.environment)}  ${r.slot} by ${r.channel} to ${r.target}: ${r.error?.code}: ${r.error?.message} (retried next tick)`,
      );
  }
  for (const e of report.errors) lines.push(`error      ${e.phase}: ${e.code}: ${e.message}`);
  return lines;
}

function printReport(
  io: CliIo,
  report: SchedulerReport,
  json: boolean,
  quietWhenIdle: boolean,
): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(report, null, quietWhenIdle ? undefined : 2)}\n`);
    return;
  }
  const lines = reportLines(report);
  if (lines.length === 0 && quietWhenIdle) return;
  print(io, `scheduler tick at ${report.at}  request ${report.requestId}`);
  for (const line of lines.length > 0 ? lines : ['nothing to do']) print(io, `  ${line}`);
}

/** Resolves on the first SIGINT or SIGTERM (`rotor scheduler`, `rotor serve`). */
export function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** Signed audit checkpoints are published from every periodic loop, this one included. */
async function publishCheckpointOnce(ctx: CommandContext): Promise<void> {
  if (!ctx.rotor.policy().audit?.checkpoints) return;
  const { publishDueCheckpoint } = await import('../../core/audit/checkpoint-publish.js');
  const result = await publishDueCheckpoint(ctx.rotor);
  if (result?.outcome === 'failed')
    ctx.io.stderr.write(`rotor: audit checkpoint not published: ${result.code}\n`);
}

async function startCheckpoints(ctx: CommandContext, intervalMs: number) {
  if (!ctx.rotor.policy().audit?.checkpoints) return undefined;
  const { startCheckpointPublisher } = await import('../../core/audit/checkpoint-publish.js');
  return startCheckpointPublisher(ctx.rotor, { intervalMs: Math.min(intervalMs, 60_000) });
}

export async function schedulerCommand(
  ctx: CommandContext,
  options: SchedulerOptions,
  runtime: { until?: Promise<unknown> } = {},
): Promise<number> {
  const intervalMs = parseInterval(options.interval);
  const json = Boolean(options.json ?? ctx.json);
  const { rotor } = ctx;
  // Fail before looping if the project cannot run: no policy, no store, wrong master key.
  rotor.policy();
  await rotor.store();
  await rotor.masterKey();
  const scheduler = createScheduler({ rotor, operator: ctx.actor.operator });
  if (options.once) {
    try {
      const report = await scheduler.tick();
      printReport(ctx.io, report, json, false);
      await publishCheckpointOnce(ctx);
      return reportHasFailures(report) ? 1 : 0;
    } finally {
      await scheduler.stop();
    }
  }
  const stopped = runtime.until ?? nextStopSignal();
  if (!json)
    print(
      ctx.io,
      `rotor scheduler: a tick every ${options.interval ?? DEFAULT_INTERVAL}; SIGINT or SIGTERM stops it`,
    );
  scheduler.start({
    intervalMs,
    onReport: (report) => {
      printReport(ctx.io, report, json, true);
    },
    onError: (error) => {
      const e = errorInfo(error, { fallback: 'ERR_ROTOR_ROTATION_FAILED' });
      ctx.io.stderr.write(`rotor: scheduler tick failed: ${e.code}: ${e.message}\n`);
    },
  });
  const checkpoints = await startCheckpoints(ctx, intervalMs);
  try {
    await stopped;
  } finally {
    await scheduler.stop();
    await checkpoints?.stop();
  }
  if (!json) print(ctx.io, 'rotor scheduler: stopped');
  return 0;
}

export function registerScheduler(program: Command, wrap: Wrap): void {
  program
    .command('scheduler')
    .description(
      'rotate what is due inside its maintenance window, retire ended grace windows, finish interrupted rotations, send reminders',
    )
    .option('--once', 'run one tick, print what it did and exit (1 if something failed)')
    .option('--interval <duration>', `time between ticks (default ${DEFAULT_INTERVAL})`)
    .option('--json', 'machine-readable reports (one JSON object per tick)')
    .action(wrap((ctx, options: SchedulerOptions) => schedulerCommand(ctx, options)));
}
