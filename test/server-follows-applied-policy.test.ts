// A running `rotor serve` follows the policy applied to the store by `rotor apply` in another
// process, never the rotor.yaml it read at start: reads of a secret added later, API rotations
// and their deploy hooks all use the applied policy; an edited but unapplied rotor.yaml is not used.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createProject, type TestProject } from './helpers/project.js';
import { startServe, type ServeProcess, adminAndAppTokens } from './helpers/serve-process.js';

const policy = (hook: string, extra = '') => `version: 1
environments: [staging, production]
secrets:
  SESSION_SECRET:
    kind: random
    cadence: 30d
    config: { bytes: 32, encoding: base64url }
    deploy:
      - name: restart the app
        command: ["sh", "-c", ${JSON.stringify(hook)}]
${extra}`;

const BROKEN_HOOK = 'exit 3';
const FIXED_HOOK = 'echo "$ROTOR_ENV $ROTOR_VERSION" >> deployed.log';
const NEW_SECRET = `  LATER_SECRET:
    kind: random
    cadence: 30d
    config: { bytes: 32, encoding: hex }
`;

let project: TestProject;
let server: ServeProcess;
let admin: string;
let app: string;

interface Answer {
  error: { code: string };
  results: { versionId: string }[];
  value: string;
}

async function call(token: string, method: string, url: string, body?: unknown) {
  const res = await fetch(`${server.base}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

beforeAll(async () => {
  project = await createProject({ policy: policy(BROKEN_HOOK) });
  const applied = await project.cli(['apply']);
  expect(applied.code, applied.stderr).toBe(0);
  // A first version exists before the server starts (rotated here, hook and all, with the CLI: it fails, the value stays current).
  await project.cli(['rotate', 'SESSION_SECRET']);
  ({ admin, app } = await adminAndAppTokens(project));
  server = await startServe(project.dir, ['--no-scheduler']);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

describe('rotor serve follows the applied policy', () => {
  test('before the apply: the broken hook fails the API rotation and the later secret is unknown', async () => {
    const rotated = await call(admin, 'POST', '/v1/secrets/SESSION_SECRET/rotate', {
      environment: 'staging',
      reason: 'before the fix',
    });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(502);
    expect(existsSync(join(project.dir, 'deployed.log'))).toBe(false);
    const read = await call(app, 'GET', '/v1/secrets/LATER_SECRET/value?env=production');
    expect(read.status).toBe(404);
    expect(read.body.error.code).toBe('ERR_ROTOR_SECRET_UNKNOWN');
  });

  test('an edited but unapplied rotor.yaml is not what the server uses', async () => {
    project.writePolicy(policy(FIXED_HOOK, NEW_SECRET));
    const read = await call(app, 'GET', '/v1/secrets/LATER_SECRET/value?env=production');
    expect(read.status).toBe(404);
    const rotated = await call(admin, 'POST', '/v1/secrets/SESSION_SECRET/rotate', {
      environment: 'staging',
      reason: 'file edited, not applied',
    });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(502);
    expect(existsSync(join(project.dir, 'deployed.log'))).toBe(false);
  });

  test('after `rotor apply` in another process: the new secret rotates and reads, the fixed hook runs', async () => {
    const applied = await project.cli(['apply']);
    expect(applied.code, applied.stderr).toBe(0);

    const inventory = await call(admin, 'GET', '/v1/secrets');
    expect(JSON.stringify(inventory.body)).toContain('LATER_SECRET');
    const made = await call(admin, 'POST', '/v1/secrets/LATER_SECRET/rotate', {
      reason: 'added later',
    });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const read = await call(app, 'GET', '/v1/secrets/LATER_SECRET/value?env=production');
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body.value).toMatch(/^[0-9a-f]{64}$/);

    const rotated = await call(admin, 'POST', '/v1/secrets/SESSION_SECRET/rotate', {
      environment: 'staging',
      reason: 'after the fix',
    });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const log = readFileSync(join(project.dir, 'deployed.log'), 'utf8');
    expect(log).toContain(`staging ${rotated.body.results[0]!.versionId}`);
  });

  test('a secret removed by a later apply is unknown to the running server', async () => {
    project.writePolicy(policy(FIXED_HOOK));
    const applied = await project.cli(['apply']);
    expect(applied.code, applied.stderr).toBe(0);
    const read = await call(app, 'GET', '/v1/secrets/LATER_SECRET/value?env=production');
    expect(read.status).toBe(404);
    expect(read.body.error.code).toBe('ERR_ROTOR_SECRET_UNKNOWN');
  });
});
