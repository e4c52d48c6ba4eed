// `rotor serve [--port N] [--host H]`: the HTTP API on 127.0.0.1 by default. Request logs go to
// stderr through the Rotor logger (info by default, ROTOR_LOG_LEVEL to change); SIGTERM or SIGINT
// stops accepting connections, lets requests in flight finish, then returns (main.ts exits).
import type { Command } from 'commander';
import { createLogger, createRotor } from '../../core/context.js';
import { RotorError } from '../../core/errors.js';
import { ROTATORS } from '../../rotators/registry.js';
import { followAppliedPolicy } from '../../core/policy/applied-policy.js';
import { listConsumers } from '../../core/consumers/list-consumers.js';
import { createRotationEngine } from '../../core/rotation/rotation-engine.js';
import { createScheduler, type Scheduler } from '../../core/scheduler/scheduler.js';
import { buildApp } from '../../server/app.js';
import { metricsEnvironment, metricsPlugin } from '../../server/metrics/metrics-plugin.js';
import { createRotorMetrics, type ConsumersBehind } from '../../server/metrics/rotor-metrics.js';
import { nextStopSignal, parseInterval } from './scheduler.js';
import type { CommandContext, GlobalOptions } from '../command-context.js';
import { print } from '../io.js';
import type { Wrap } from '../program.js';

export interface ServeOptions extends GlobalOptions {
  port?: string;
  host?: string;
  /** commander's `--no-scheduler`. */
  scheduler?: boolean;
  schedulerInterval?: string;
  metricsEnv?: string;
}

export const DEFAULT_PORT = 7420;

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new RotorError('ERR_ROTOR_CLI_USAGE', `invalid --port "${value}": use 0-65535 (0 picks a free port)`);
  return Number(value);
}

export async function serveCommand(ctx: CommandContext, options: ServeOptions): Promise<number> {
  const port = parsePort(options.port);
  const host = options.host ?? '127.0.0.1';
  const env = ctx.io.env;
  const rotor = createRotor({
    cwd: ctx.io.cwd,
    env,
    rotators: ROTATORS,
    clock: ctx.rotor.clock,
    logger: createLogger({ ...env, ROTOR_LOG_LEVEL: env.ROTOR_LOG_LEVEL ?? 'info' }),
    ...(options.config ? { policyFile: options.config } : {}),
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  });
  // Fail before listening if the project cannot serve: no policy, no store, wrong master key.
  rotor.policy();
  const store = await rotor.store();
  await rotor.masterKey();
  // From here on the server follows the policy applied to the store (`rotor apply`), not the file.
  const policy = followAppliedPolicy(rotor, store);
  policy.refresh();
  const metricsEnv = options.metricsEnv;
  if (metricsEnv !== undefined && !rotor.policy().environments.includes(metricsEnv)) {
    throw new RotorError('ERR_ROTOR_CLI_USAGE', `invalid --metrics-env "${metricsEnv}": not an environment in rotor.yaml (${rotor.policy().environments.join(', ')})`);
  }
  const intervalMs = parseInterval(options.schedulerInterval, '--scheduler-interval');
  // One Rotor (one SQLite connection) for the API, the scheduler and the metrics: two
  // connections to the same file in one process could wait on each other's write lock.
  const metrics = createRotorMetrics(rotor, {
    async consumersBehind() {
      const store = await rotor.store();
      const counts = new Map<string, ConsumersBehind>();
      for (const consumer of await listConsumers(store.db, { liveOnly: true }, rotor.clock.now())) {
        for (const held of consumer.holds.filter((h) => h.behind)) {
          const key = `${held.secret}\u0000${held.environment}`;
          const entry = counts.get(key) ?? { secret: held.secret, environment: held.environment, count: 0 };
          entry.count += 1;
          counts.set(key, entry);
        }
      }
      return [...counts.values()];
    },
  });
  const engine = createRotationEngine({ rotor, onProgress: (event) => metrics.observe(event) });
  const app = await buildApp({ rotor, engine, policy, plugins: [metricsPlugin({ metrics, environment: metricsEnvironment(rotor.policy().environments, metricsEnv) })] });
  let scheduler: Scheduler | undefined;
  try {
    const stopped = nextStopSignal();
    const address = await app.listen({ port, host });
    print(ctx.io, `rotor serve: listening on ${address} (API under /v1, OpenAPI at ${address}/v1/openapi.json, dashboard at ${address}/dashboard/, metrics at ${address}/metrics)`);
    if (options.scheduler !== false) {
      scheduler = createScheduler({ rotor, engine, operator: 'rotor-scheduler', beforeTick: () => policy.refresh() });
      let lastTickAt: number | undefined;
      // Lag: how long past its due time the next tick is (0 while the loop keeps time).
      metrics.setSources({ schedulerLagSeconds: () => (lastTickAt === undefined ? undefined : Math.max(0, (Date.now() - lastTickAt - intervalMs) / 1000)) });
      scheduler.start({
        intervalMs,
        onReport: () => {
          lastTickAt = Date.now();
        },
        onError: (error) => rotor.logger.error({ code: (error as { code?: string }).code }, 'scheduler tick failed'),
      });
      print(ctx.io, `rotor serve: scheduler running every ${Math.round(intervalMs / 1000)} s (--no-scheduler to leave it to \`rotor scheduler\`)`);
    }
    const signal = await stopped;
    rotor.logger.info({ signal }, 'shutting down');
  } finally {
    await scheduler?.stop();
    await app.close();
    policy.close();
    await rotor.close();
  }
  print(ctx.io, 'rotor serve: stopped');
  return 0;
}

export function registerServe(program: Command, wrap: Wrap): void {
  program
    .command('serve')
    .description('run the HTTP API (bearer API tokens; see `rotor token create`)')
    .option('-p, --port <port>', `port (default ${DEFAULT_PORT}; 0 picks a free one)`)
    .option('--host <host>', 'address to bind (default 127.0.0.1: only this machine)')
    .option('--no-scheduler', 'do not run the scheduler in this process (run `rotor scheduler` elsewhere)')
    .option('--scheduler-interval <duration>', 'time between scheduler ticks (default 60s)')
    .option('--metrics-env <env>', 'environment whose METRICS_AUTH_TOKEN guards /metrics (default production, else the last)')
    .action(wrap(serveCommand));
}
