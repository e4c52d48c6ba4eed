// Shared set-up for the dashboard tests: a temporary project with a small policy (one secret
// with a hostile owner and notes), rotated once, an operator with a known password and TOTP
// secret, and the dashboard plugin on a Fastify instance that gives UUID request ids.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import type { Actor } from '../src/core/audit/audit-log.js';
import type { Rotor } from '../src/core/context.js';
import { createOperator } from '../src/core/operators/create-operator.js';
import { base32Decode, totpCode } from '../src/core/operators/totp.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import {
  createDashboardPlugin,
  type DashboardOptions,
} from '../src/server/dashboard/dashboard-plugin.js';
import { createProject, type TestProject } from './helpers/project.js';

export const HOSTILE_OWNER = '<script>alert("owner")</script>';
export const HOSTILE_NOTES = "\"><img src=x onerror=alert(1)> & 'quoted'";

export const DASHBOARD_POLICY = `version: 1
environments: [staging, production]
secrets:
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
    grace: 1h
    owner: platform-team
    config: { algorithm: HS256 }
  SESSION_SECRET:
    kind: random
    cadence: 30d
    owner: ${JSON.stringify(HOSTILE_OWNER)}
    notes: ${JSON.stringify(HOSTILE_NOTES)}
    config: { bytes: 32, encoding: base64url }
  SMTP_PASSWORD:
    kind: manual
    cadence: 180d
`;

export const PASSWORD = 'correct horse battery staple';
export const SETUP: Actor = {
  operator: 'setup',
  requestId: '00000000-0000-4000-8000-000000000000',
  method: 'manual',
};

export interface DashboardFixture {
  project: TestProject;
  rotor: Rotor;
  app: FastifyInstance;
  totpSecret: Buffer;
  /** The code the operator's authenticator shows now (the clock moves 30 s first, so it is fresh). */
  nextCode(): string;
  close(): Promise<void>;
}

export async function buildDashboardApp(
  rotor: Rotor,
  options: DashboardOptions & { trustProxy?: boolean; logger?: boolean } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    genReqId: () => randomUUID(),
    trustProxy: options.trustProxy ?? false,
    ...(options.logger ? { logger: true } : {}),
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.register(createDashboardPlugin(options), { deps: { rotor } });
  return app;
}

export async function createDashboardFixture(
  options: DashboardOptions & { trustProxy?: boolean; policy?: string; rotate?: string[] } = {},
): Promise<DashboardFixture> {
  const project = await createProject({ policy: options.policy ?? DASHBOARD_POLICY });
  const rotor = project.rotor();
  const engine = createRotationEngine({ rotor });
  for (const secret of options.rotate ?? ['JWT_ACCESS_SECRET', 'SESSION_SECRET']) {
    const result = await engine.rotate(SETUP, { secret, method: 'manual' });
    if (!result.ok) throw new Error(`setup rotation of ${secret} failed`);
  }
  const created = await createOperator(rotor, SETUP, { name: 'alice', password: PASSWORD });
  const app = await buildDashboardApp(rotor, options);
  const totpSecret = base32Decode(created.totpSecret);
  return {
    project,
    rotor,
    app,
    totpSecret,
    nextCode() {
      project.clock.advance(30_000);
      return totpCode(totpSecret, project.clock.now());
    },
    async close() {
      await app.close();
      await rotor.close();
    },
  };
}

export function cookieValue(res: LightMyRequestResponse, name: string): string | undefined {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  for (const c of list) if (c.startsWith(`${name}=`)) return c.slice(name.length + 1).split(';')[0];
  return undefined;
}

export function setCookies(res: LightMyRequestResponse): string[] {
  const raw = res.headers['set-cookie'];
  return Array.isArray(raw) ? raw : raw ? [raw] : [];
}

export function csrfOf(body: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(body);
  if (!m) throw new Error('no csrf field on the page');
  return m[1]!;
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Signs in through the login form; resolves to the session cookie header and the POST's response. */
export async function signIn(
  f: DashboardFixture,
  fields: { name?: string; password?: string; code?: string } = {},
): Promise<{ cookie: string; res: LightMyRequestResponse }> {
  const page = await f.app.inject({ method: 'GET', url: '/dashboard/login' });
  const loginCookie = cookieValue(page, 'rotor_login')!;
  const res = await f.app.inject({
    method: 'POST',
    url: '/dashboard/login',
    headers: { ...FORM, cookie: `rotor_login=${loginCookie}` },
    payload: form({
      csrf: csrfOf(page.body),
      name: fields.name ?? 'alice',
      password: fields.password ?? PASSWORD,
      code: fields.code ?? f.nextCode(),
    }),
  });
  const session = cookieValue(res, 'rotor_session');
  return { cookie: session ? `rotor_session=${session}` : '', res };
}
