// Shared set-up for the server tests: a temporary project (real SQLite store) with a small
// policy, a rotated value per secret, tokens of every role, and an app built over it.
import { rmSync } from 'node:fs';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Actor } from '../src/core/audit/audit-log.js';
import type { Rotor } from '../src/core/context.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { buildApp, type BuildAppOptions } from '../src/server/app.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';

export const POLICY = `version: 1
environments: [staging, production]
secrets:
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
    grace: 1h
    config: { algorithm: HS256 }
  SESSION_SECRET:
    kind: random
    cadence: 30d
    config: { bytes: 32, encoding: base64url }
  BILLING_KEY:
    kind: random
    cadence: 30d
    environments: [production]
    config: { bytes: 32, encoding: hex }
  SMTP_PASSWORD:
    kind: manual
    cadence: 180d
  JWT_SIGNING_KEY:
    kind: jwt-keypair
    cadence: 90d
    grace: 1h
    environments: [production]
    config: { algorithm: EdDSA }
`;

export const ADMIN_ACTOR: Actor = {
  operator: 'setup',
  requestId: '00000000-0000-4000-8000-000000000000',
  method: 'manual',
};

export interface ServerFixture {
  project: TestProject;
  rotor: Rotor;
  app: FastifyInstance;
  tokens: { admin: string; operator: string; auditor: string; app: string; appStaging: string };
  /** Every secret value stored, so tests can check none leaks where it must not. */
  values(): Promise<string[]>;
  call(token: string | undefined, options: InjectOptions): Promise<LightMyRequestResponse>;
  /** Audit rows, versions, rotations and tokens: what an unauthorized request must not change. */
  snapshot(): Promise<{ audit: number; versions: string; rotations: number; tokens: string }>;
  close(): Promise<void>;
}

export async function createServerFixture(
  options: Partial<BuildAppOptions> = {},
): Promise<ServerFixture> {
  const project = await createProject({ policy: POLICY });
  await project.cli(['apply']);
  const rotor = project.rotor();
  const engine = createRotationEngine({ rotor });
  for (const secret of ['JWT_ACCESS_SECRET', 'SESSION_SECRET', 'BILLING_KEY', 'JWT_SIGNING_KEY']) {
    const result = await engine.rotate(ADMIN_ACTOR, { secret, method: 'manual' });
    if (!result.ok)
      throw new Error(`setup rotation of ${secret} failed: ${JSON.stringify(result.results)}`);
  }
  const store = await rotor.store();
  const make = async (name: string, role: string, secrets?: string[], environments?: string[]) =>
    (
      await createApiToken(store, project.clock, ADMIN_ACTOR, {
        name,
        role,
        ...(secrets ? { secrets } : {}),
        ...(environments ? { environments } : {}),
        expiresInMs: 30 * DAY,
      })
    ).token;
  const tokens = {
    admin: await make('admin-1', 'admin'),
    operator: await make('operator-1', 'operator'),
    auditor: await make('auditor-1', 'auditor'),
    app: await make('app-1', 'app', ['JWT_*', 'SESSION_SECRET'], ['production']),
    appStaging: await make('app-staging', 'app', ['*'], ['staging']),
  };
  const app = await buildApp({ rotor, engine, requestLogging: false, ...options });
  return {
    project,
    rotor,
    app,
    tokens,
    async values() {
      const master = await rotor.masterKey();
      const { openVersion } = await import('../src/core/vault/versions.js');
      const rows = await store.db
        .selectFrom('versions')
        .selectAll()
        .where('ciphertext', 'is not', null)
        .execute();
      return rows.map((r) => openVersion(master, r));
    },
    call(token, o) {
      const headers = {
        ...(o.headers ?? {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      };
      return app.inject({ ...o, headers });
    },
    async snapshot() {
      const audit = await store.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const versions = await store.db
        .selectFrom('versions')
        .select(['id', 'stage', 'retired_at'])
        .orderBy('id')
        .execute();
      const rotations = await store.db
        .selectFrom('rotations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const tokenRows = await store.db
        .selectFrom('api_tokens')
        .select(['id', 'revoked_at'])
        .orderBy('id')
        .execute();
      return {
        audit: Number(audit.n),
        versions: JSON.stringify(versions),
        rotations: Number(rotations.n),
        tokens: JSON.stringify(tokenRows),
      };
    },
    async close() {
      await app.close();
      await rotor.close();
      rmSync(project.dir, { recursive: true, force: true });
    },
  };
}
