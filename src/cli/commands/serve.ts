// `rotor serve [--port N] [--host H]`: the HTTP API on 127.0.0.1 by default. Request logs go to
// stderr through the Rotor logger (info by default, ROTOR_LOG_LEVEL to change); SIGTERM or SIGINT
// stops accepting connections, ends event streams, gives up scheduler leadership at once, lets
// requests and a rotation in flight finish, then returns (main.ts exits). A second signal kills
// the process at once: what it was rotating is journaled, and `resume` (or another instance's
// scheduler) finishes it.
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { createLogger, createRotor } from '../../core/context.js';
import { RotorError } from '../../core/errors.js';
import { ROTATORS } from '../../rotators/registry.js';
import { followAppliedPolicy } from '../../core/apply/applied-policy.js';
import { listConsumers } from '../../core/consumers/list-consumers.js';
import { createRotationEngine } from '../../core/rotation/rotation-engine.js';
import { createScheduler, type Scheduler } from '../../core/scheduler/scheduler.js';
import type { Store } from '../../core/store/open-store.js';
import { buildApp } from '../../server/app.js';
import { DEFAULT_ADDRESS_LIMIT, DEFAULT_TOKEN_LIMIT } from '../../server/rate-limit.js';
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
  rateLimit?: string;
  rateLimitAddress?: string;
  trustProxy?: string;
}

export const DEFAULT_PORT = 7420;

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `invalid --port "${value}": use 0-65535 (0 picks a free port)`,
    );
  return Number(value);
}

/** `--rate-limit N` / `--rate-limit-address N`: requests a minute, 0 for no limit. */
function parseLimit(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value))
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `invalid ${flag} "${value}": use a whole number of requests a minute (0 for no limit)`,
    );
  return Number(value) === 0 ? Number.MAX_SAFE_INTEGER : Number(value);
}

const PROXY_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `--trust-proxy 10.0.0.0/8,127.0.0.1`: addresses or CIDRs (or loopback, linklocal, uniquelocal). */
export function parseTrustProxy(value: string | undefined): string[] {
  if (value === undefined) return [];
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (PROXY_KEYWORDS.has(entry)) continue;
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || extra !== undefined) {
      throw new RotorError(
        'ERR_ROTOR_CLI_USAGE',
        `invalid --trust-proxy entry "${entry.slice(0, 64)}": use IP addresses or CIDRs separated by commas (10.0.0.0/8,::1), or loopback, linklocal, uniquelocal`,
      );
    }
  }
  return entries;
}

export async function serveCommand(ctx: CommandContext, options: ServeOptions): Promise<number> {
  const port = parsePort(options.port);
  const rateLimit = {
    max: parseLimit(options.rateLimit, '--rate-limit', DEFAULT_TOKEN_LIMIT),
    perAddress: parseLimit(options.rateLimitAddress, '--rate-limit-address', DEFAULT_ADDRESS_LIMIT),
    timeWindowMs: 60_000,
  };
  const trustProxy = parseTrustProxy(options.trustProxy);
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
  await policy.refresh();
  const metricsEnv = options.metricsEnv;
  if (metricsEnv !== undefined && !rotor.policy().environments.includes(metricsEnv)) {
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `invalid --metrics-env "${metricsEnv}": not an environment in rotor.yaml (${rotor.policy().environments.join(', ')})`,
    );
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
          const entry = counts.get(key) ?? {
            secret: held.secret,
            environment: held.environment,
            count: 0,
          };
          entry.count += 1;
          counts.set(key, entry);
        }
      }
      return [...counts.values()];
    },
  });
  const engine = createRotationEngine({ rotor, onProgress: (event) => metrics.observe(event) });
  const app = await buildApp({
    rotor,
    engine,
    policy,
    rateLimit,
    trustProxy,
    plugins: [
      metricsPlugin({
        metrics,
        environment: metricsEnvironment(rotor.policy().environments, metricsEnv),
      }),
    ],
  });
  let scheduler: Scheduler | undefined;
  let checkpoints: { stop(): Promise<void> } | undefined;
  let failed: PromiseRejectedResult | undefined;
  try {
    const stopped = nextStopSignal();
    const address = await app.listen({ port, host });
    print(
      ctx.io,
      `rotor serve: listening on ${address} (API under /v1, OpenAPI at ${address}/v1/openapi.json, dashboard at ${address}/dashboard/, metrics at ${address}/metrics)`,
    );
    if (options.scheduler !== false) {
      scheduler = createScheduler({
        rotor,
        engine,
        operator: 'rotor-scheduler',
        beforeTick: () => policy.refresh(),
      });
      let lastTickAt: number | undefined;
      // Lag: how long past its due time the next tick is (0 while the loop keeps time).
      metrics.setSources({
        schedulerLagSeconds: () =>
          lastTickAt === undefined
            ? undefined
            : Math.max(0, (Date.now() - lastTickAt - intervalMs) / 1000),
      });
      scheduler.start({
        intervalMs,
        onReport: () => {
          lastTickAt = Date.now();
        },
        onError: (error) =>
          rotor.logger.error({ code: (error as { code?: string }).code }, 'scheduler tick failed'),
      });
      print(
        ctx.io,
        `rotor serve: scheduler running every ${Math.round(intervalMs / 1000)} s (--no-scheduler to leave it to \`rotor scheduler\`)`,
      );
    }
    // Signed audit checkpoints (rotor.yaml audit.checkpoints), when due; failures only warn.
    const { startCheckpointPublisher } = await import('../../core/audit/checkpoint-publish.js');
    checkpoints = startCheckpointPublisher(rotor, { intervalMs: Math.min(intervalMs, 60_000) });
    const signal = await stopped;
    rotor.logger.info(
      { signal },
      'shutting down: no new connections, closing event streams, releasing scheduler leadership',
    );
    const rotating = await rotationsHeldHere(rotor).catch(() => []);
    if (rotating.length > 0) {
      rotor.logger.warn(
        { signal, rotations: rotating },
        `shutting down: waiting for the rotation in progress to finish (${rotating.join(', ')}); a second ${signal} stops at once and leaves it journaled for \`rotor resume\` or another instance's scheduler`,
      );
    }
  } finally {
    // Together: the server stops accepting and ends its streams while the scheduler hands its
    // lease over and finishes the tick it is in.
    const ends = await Promise.allSettled([app.close(), scheduler?.stop()]);
    failed = ends.find((r) => r.status === 'rejected');
    await checkpoints?.stop();
    policy.close();
    await rotor.close();
  }
  // Both were waited for before the store closed; the first failure is the one reported.
  if (failed) throw failed.reason;
  print(ctx.io, 'rotor serve: stopped');
  return 0;
}

/** The rotations this process holds a lock for (`SECRET/env`), for the shutdown message. */
async function rotationsHeldHere(rotor: { store(): Promise<Store> }): Promise<string[]> {
  const store = await rotor.store();
  const rows = await store.db
    .selectFrom('locks')
    .select('name')
    .where('pid', '=', process.pid)
    .where('host', '=', hostname())
    .where('name', 'like', 'rotation:%')
    .execute();
  return rows.map((r) => r.name.replace(/^rotation:/, '').replace(/:([^:]*)$/, '/$1'));
}

export function registerServe(program: Command, wrap: Wrap): void {
  program
    .command('serve')
    .description('run the HTTP API (bearer API tokens; see `rotor token create`)')
    .option('-p, --port <port>', `port (default ${DEFAULT_PORT}; 0 picks a free one)`)
    .option('--host <host>', 'address to bind (default 127.0.0.1: only this machine)')
    .option(
      '--no-scheduler',
      'do not run the scheduler in this process (run `rotor scheduler` elsewhere)',
    )
    .option('--scheduler-interval <duration>', 'time between scheduler ticks (default 60s)')
    .option(
      '--metrics-env <env>',
      'environment whose METRICS_AUTH_TOKEN guards /metrics (default production, else the last)',
    )
    .option(
      '--rate-limit <n>',
      `requests a minute per API token (default ${DEFAULT_TOKEN_LIMIT}; 0: no limit)`,
    )
    .option(
      '--rate-limit-address <n>',
      `requests a minute per client address without a valid token (default ${DEFAULT_ADDRESS_LIMIT}; 0: no limit)`,
    )
    .option(
      '--trust-proxy <list>',
      'reverse proxies to believe X-Forwarded-For/-Proto/-Host from: addresses or CIDRs, comma-separated',
    )
    .action(wrap(serveCommand));
}
