// Rotor's Prometheus metrics (docs/server.md), in one registry per server, never prom-client's
// global one, so tests and several apps in one process do not mix.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Rotor } from '../../core/context.js';
import type { ProgressEvent } from '../../core/rotation/rotation-engine.js';
import { computeStatus, STATUS_STATES } from '../../core/status/status.js';

export interface ConsumersBehind {
  secret: string;
  environment: string;
  count: number;
}

export interface MetricsSources {
  /** Seconds the scheduler's last tick ran behind its schedule; undefined when no scheduler runs. */
  schedulerLagSeconds?(): number | undefined;
  /** Live consumers per secret × environment that have not acknowledged the current version. */
  consumersBehind?(): Promise<readonly ConsumersBehind[]>;
}

export interface RotorMetrics {
  readonly registry: Registry;
  /** Feed the engine's progress events here (`createRotationEngine({ onProgress })`). */
  observe(event: ProgressEvent): void;
  /** Lets parts created after the metrics (scheduler, consumers) report. */
  setSources(sources: MetricsSources): void;
  render(): Promise<string>;
  readonly contentType: string;
}

const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** @example const metrics = createRotorMetrics(rotor); const engine = createRotationEngine({ rotor, onProgress: metrics.observe }); */
export function createRotorMetrics(
  rotor: Pick<Rotor, 'store' | 'clock' | 'policy'>,
  initial: MetricsSources = {},
): RotorMetrics {
  const registry = new Registry();
  let sources = initial;

  const secretsByState = new Gauge({
    name: 'rotor_secrets',
    help: 'Secret × environment pairs by state',
    labelNames: ['state'],
    registers: [registry],
  });
  const age = new Gauge({
    name: 'rotor_secret_age_seconds',
    help: 'Age of the current version (since its real-world rotation)',
    labelNames: ['secret', 'environment'],
    registers: [registry],
  });
  const target = new Gauge({
    name: 'rotor_secret_cadence_target_seconds',
    help: 'Age at which a rotation is due',
    labelNames: ['secret', 'environment'],
    registers: [registry],
  });
  const max = new Gauge({
    name: 'rotor_secret_cadence_max_seconds',
    help: 'Age after which the secret is overdue',
    labelNames: ['secret', 'environment'],
    registers: [registry],
  });
  const ratio = new Gauge({
    name: 'rotor_secret_age_ratio',
    help: 'Age divided by the cadence target (1 = due)',
    labelNames: ['secret', 'environment'],
    registers: [registry],
  });
  const nextDue = new Gauge({
    name: 'rotor_secret_next_due_timestamp_seconds',
    help: 'When the next rotation is due (Unix seconds)',
    labelNames: ['secret', 'environment'],
    registers: [registry],
  });
  const rotations = new Counter({
    name: 'rotor_rotations_total',
    help: 'Rotations recorded in the store, by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'rotor_rotation_step_duration_seconds',
    help: 'Duration of rotation steps run by this process',
    labelNames: ['step', 'outcome'],
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'rotor_scheduler_lag_seconds',
    help: 'How far the last scheduler tick ran behind its schedule',
    registers: [registry],
  });
  const behind = new Gauge({
    name: 'rotor_consumers_behind',
    help: 'Live consumers that have not acknowledged the current version',
    labelNames: ['secret', 'environment'],
    registers: [registry],
  });

  async function collect(): Promise<void> {
    const store = await rotor.store();
    const now = rotor.clock.now();
    const report = await computeStatus(store, { now });
    for (const g of [age, target, max, ratio, nextDue]) g.reset();
    for (const state of STATUS_STATES) secretsByState.set({ state }, report.summary.byState[state]);
    const specs = rotor.policy().secrets;
    for (const row of report.rows) {
      const labels = { secret: row.secret, environment: row.environment };
      const spec = specs.get(row.secret);
      if (spec) {
        target.set(labels, spec.cadence.targetMs / 1000);
        max.set(labels, spec.cadence.maxMs / 1000);
      }
      if (row.ageMs !== null) {
        age.set(labels, row.ageMs / 1000);
        if (spec) ratio.set(labels, row.ageMs / spec.cadence.targetMs);
      }
      if (row.nextDueAt !== null) nextDue.set(labels, row.nextDueAt / 1000);
    }
    const counts = await store.db
      .selectFrom('rotations')
      .innerJoin('secrets', 'secrets.name', 'rotations.secret')
      .select([
        'secrets.kind as kind',
        'rotations.state as outcome',
        (eb) => eb.fn.countAll<number>().as('n'),
      ])
      .groupBy(['secrets.kind', 'rotations.state'])
      .execute();
    rotations.reset();
    for (const c of counts) rotations.inc({ kind: c.kind, outcome: c.outcome }, Number(c.n));
    const lagSeconds = sources.schedulerLagSeconds?.();
    if (lagSeconds === undefined) lag.reset();
    else lag.set(lagSeconds);
    behind.reset();
    for (const b of (await sources.consumersBehind?.()) ?? [])
      behind.set({ secret: b.secret, environment: b.environment }, b.count);
  }

  return {
    registry,
    contentType: registry.contentType,
    observe(event) {
      if (event.phase === 'start' || event.ms === undefined) return;
      steps.observe(
        { step: event.step, outcome: event.phase === 'done' ? 'success' : 'failure' },
        event.ms / 1000,
      );
    },
    setSources(next) {
      sources = { ...sources, ...next };
    },
    async render() {
      await collect();
      return registry.metrics();
    },
  };
}
