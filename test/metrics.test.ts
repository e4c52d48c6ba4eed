// /metrics: Prometheus text behind the Rotor-managed METRICS_AUTH_TOKEN (current and, during
// its grace window, previous accepted), with secrets by state, age against cadence, rotations by
// kind and outcome, step durations, scheduler lag and consumers behind. Never a secret value.
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Actor } from '../src/core/audit/audit-log.js';
import type { Rotor } from '../src/core/context.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion, versionInStage } from '../src/core/vault/versions.js';
import { buildApp } from '../src/server/app.js';
import { metricsPlugin } from '../src/server/metrics/metrics-plugin.js';
import { createRotorMetrics } from '../src/server/metrics/rotor-metrics.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-00000000003a',
  method: 'manual',
};

const POLICY = `version: 1
environments: [staging, production]
secrets:
  METRICS_AUTH_TOKEN:
    kind: random
    cadence: 180d
    grace: 1h
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
  SMTP_PASSWORD:
    kind: manual
    cadence: 180d
`;

interface Fixture {
  p: TestProject;
  rotor: Rotor;
  app: FastifyInstance;
  engine: ReturnType<typeof createRotationEngine>;
  token(stage?: 'current' | 'previous'): Promise<string>;
  scrape(token?: string): Promise<LightMyRequestResponse>;
}

let open: Fixture | undefined;
afterEach(async () => {
  await open?.app.close();
  await open?.rotor.close();
  open = undefined;
});

async function fixture(options: { rotateToken?: boolean; lag?: number } = {}): Promise<Fixture> {
  const p = await createProject({ policy: POLICY });
  const rotor = p.rotor();
  const metrics = createRotorMetrics(rotor, {
    ...(options.lag === undefined ? {} : { schedulerLagSeconds: () => options.lag }),
    consumersBehind: async () => [
      { secret: 'JWT_ACCESS_SECRET', environment: 'production', count: 2 },
    ],
  });
  const engine = createRotationEngine({ rotor, onProgress: (e) => metrics.observe(e) });
  if (options.rotateToken !== false) {
    const r = await engine.rotate(actor, { secret: 'METRICS_AUTH_TOKEN', method: 'manual' });
    expect(r.ok).toBe(true);
  }
  const app = await buildApp({
    rotor,
    engine,
    requestLogging: false,
    plugins: [metricsPlugin({ metrics })],
  });
  const f: Fixture = {
    p,
    rotor,
    app,
    engine,
    async token(stage = 'current') {
      const row = await versionInStage(
        (await rotor.store()).db,
        'METRICS_AUTH_TOKEN',
        'production',
        stage,
      );
      return openVersion(await rotor.masterKey(), row!);
    },
    scrape(token) {
      return app.inject({
        method: 'GET',
        url: '/metrics',
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
    },
  };
  open = f;
  return f;
}

describe('/metrics', () => {
  it('serves Prometheus text to the current METRICS_AUTH_TOKEN of production', async () => {
    const f = await fixture({ lag: 1.5 });
    await f.engine.rotate(actor, { secret: 'JWT_ACCESS_SECRET', method: 'manual' });
    const res = await f.scrape(await f.token());
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const text = res.body;
    expect(text).toContain('# TYPE rotor_secrets gauge');
    expect(text).toMatch(/rotor_secrets\{state="ok"\} 4/);
    expect(text).toMatch(/rotor_secrets\{state="unknown"\} 2/);
    expect(text).toContain(
      'rotor_secret_cadence_target_seconds{secret="JWT_ACCESS_SECRET",environment="production"} 7776000',
    );
    expect(text).toContain(
      'rotor_secret_age_ratio{secret="JWT_ACCESS_SECRET",environment="production"} 0',
    );
    expect(text).toContain('rotor_rotations_total{kind="jwt-hmac",outcome="succeeded"} 2');
    expect(text).toContain('rotor_rotations_total{kind="random",outcome="succeeded"} 2');
    expect(text).toMatch(
      /rotor_rotation_step_duration_seconds_count\{step="verify",outcome="success"\} 4/,
    );
    expect(text).toContain('rotor_scheduler_lag_seconds 1.5');
    expect(text).toContain(
      'rotor_consumers_behind{secret="JWT_ACCESS_SECRET",environment="production"} 2',
    );
    // Ages move with the clock.
    f.p.clock.advance(45 * DAY);
    const later = await f.scrape(await f.token());
    expect(later.body).toContain(
      'rotor_secret_age_ratio{secret="JWT_ACCESS_SECRET",environment="production"} 0.5',
    );
  });

  it('refuses a missing or wrong token with 401, and never shows a value', async () => {
    const f = await fixture();
    const missing = await f.scrape();
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.code).toBe('ERR_ROTOR_API_TOKEN_MISSING');
    const wrong = await f.scrape('not-the-token');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toContain('Bearer');
    expect(wrong.json().error.message).toContain('METRICS_AUTH_TOKEN of production');
    // The staging token is not production's.
    const staging = openVersion(
      await f.rotor.masterKey(),
      (await versionInStage(
        (await f.rotor.store()).db,
        'METRICS_AUTH_TOKEN',
        'staging',
        'current',
      ))!,
    );
    expect((await f.scrape(staging)).statusCode).toBe(401);
    // An API token of any role is not a metrics token either.
    const ok = await f.scrape(await f.token());
    const store = await f.rotor.store();
    const values = (
      await store.db
        .selectFrom('versions')
        .selectAll()
        .where('ciphertext', 'is not', null)
        .execute()
    ).map(async (r) => openVersion(await f.rotor.masterKey(), r));
    for (const v of await Promise.all(values)) {
      expect(ok.body).not.toContain(v);
      expect(wrong.body).not.toContain(v);
    }
  });

  it('accepts the previous token during its grace window only, after a rotation', async () => {
    const f = await fixture();
    const old = await f.token();
    await f.engine.rotate(actor, {
      secret: 'METRICS_AUTH_TOKEN',
      environments: ['production'],
      method: 'manual',
    });
    const current = await f.token();
    expect(current).not.toBe(old);
    expect((await f.scrape(old)).statusCode).toBe(200);
    expect((await f.scrape(current)).statusCode).toBe(200);
    f.p.clock.advance(61 * 60_000);
    expect((await f.scrape(old)).statusCode).toBe(401);
    expect((await f.scrape(current)).statusCode).toBe(200);
  });

  it('stays closed (503) while METRICS_AUTH_TOKEN has no value, instead of opening up', async () => {
    const f = await fixture({ rotateToken: false });
    const res = await f.scrape('anything');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.message).toContain(
      'METRICS_AUTH_TOKEN has no current value in production',
    );
  });
});
