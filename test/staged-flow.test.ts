// The staged flow after promotion: deploy hooks, smoke tests and health checks per environment
// in order, a staging failure that leaves production untouched, a production failure that
// rolls that environment back to the still-valid previous version, and CRITICAL afterwards.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion } from '../src/core/vault/versions.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000002',
  method: 'manual',
};
const HOOK_KEY = 'hook-signing-key-for-tests-0123456789';
/** A `random` token as generated here: 32 bytes, base64url. */
const RANDOM_TOKEN = /^[A-Za-z0-9_-]{43}$/;

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base = '';
const received: Received[] = [];
/** Status to answer per path, consumed front to back; 200 once empty. */
const answers = new Map<string, number[]>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ method: req.method ?? '', path, headers: req.headers, body });
      const status = answers.get(path)?.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const HOOK_SCRIPT = `
import { appendFileSync, existsSync } from 'node:fs';
appendFileSync(process.env.HOOK_LOG, JSON.stringify({
  argv: process.argv.slice(2),
  secret: process.env.ROTOR_SECRET,
  env: process.env.ROTOR_ENV,
  version: process.env.ROTOR_VERSION,
  stage: process.env.ROTOR_STAGE,
  rotorVars: Object.keys(process.env).filter((k) => k.startsWith('ROTOR_') && !['ROTOR_SECRET', 'ROTOR_SECRET_NAME', 'ROTOR_ENV', 'ROTOR_VERSION', 'ROTOR_ROTATION', 'ROTOR_STAGE'].includes(k)),
}) + '\\n');
const fail = process.env.HOOK_DIR + '/fail-' + process.env.ROTOR_STAGE + '-' + process.env.ROTOR_ENV;
if (existsSync(fail)) {
  console.error('deploy refused for', process.env.ROTOR_SECRET);
  process.exit(3);
}
`;

/** A hook command that records its pid (argv[1]) and would then run for an hour. */
const HANG =
  "require('node:fs').writeFileSync(process.argv[1], String(process.pid)); setTimeout(() => {}, 3600000)";

/** Whether a process still runs (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true; // no /proc: kill(0) said it runs
  }
}

function policy(steps: string, kind = 'random'): string {
  return `version: 1
environments: [staging, production]
secrets:
  API_TOKEN:
    kind: ${kind}
    cadence: 90d
    grace: 24h
${steps}
`;
}

const FULL_FLOW = `    deploy:
      - name: restart app
        command: ["${process.execPath}", "hook.mjs", "--restart"]
      - http: { url: "${'{BASE}'}/deploy/{env}", key: { env: HOOK_KEY } }
    smoke:
      - name: smoke script
        command: ["${process.execPath}", "hook.mjs", "--smoke"]
    health:
      - http: { url: "${'{BASE}'}/healthz/{env}", method: GET }
        retries: 2
        interval: 0s`;

interface Setup {
  p: TestProject;
  log: () => {
    argv: string[];
    secret: string;
    env: string;
    version: string;
    stage: string;
    rotorVars: string[];
  }[];
  failAt(stage: string, env: string): void;
  value(env: string, stage?: string): Promise<string | undefined>;
  audit(): Promise<{ action: string; outcome: string; environment: string; notes: string }[]>;
  state(env: string): Promise<string | undefined>;
}

async function setup(steps = FULL_FLOW, kind = 'random'): Promise<Setup> {
  const p = await createProject({ policy: policy(steps.replaceAll('{BASE}', base), kind) });
  writeFileSync(join(p.dir, 'hook.mjs'), HOOK_SCRIPT);
  const logFile = join(p.dir, 'hooks.log');
  Object.assign(p.env, {
    HOOK_KEY,
    HOOK_LOG: logFile,
    HOOK_DIR: p.dir,
    ROTOR_MASTER_KEY_HINT: 'must not reach hooks',
  });
  const apply = await p.cli(['apply']);
  expect(apply.code, apply.stderr).toBe(0);
  received.length = 0;
  answers.clear();
  return {
    p,
    log: () =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
        : [],
    failAt: (stage, env) => writeFileSync(join(p.dir, `fail-${stage}-${env}`), ''),
    async value(env, stage = 'current') {
      const rotor = p.rotor();
      const store = await rotor.store();
      const row = await store.db
        .selectFrom('versions')
        .selectAll()
        .where('secret', '=', 'API_TOKEN')
        .where('environment', '=', env)
        .where('stage', '=', stage as 'current')
        .executeTakeFirst();
      const value = row ? openVersion(await rotor.masterKey(), row) : undefined;
      await rotor.close();
      return value;
    },
    async audit() {
      const rotor = p.rotor();
      const store = await rotor.store();
      const rows = await store.db
        .selectFrom('audit_events')
        .select('entry')
        .orderBy('seq')
        .execute();
      await rotor.close();
      return rows.map((r) => JSON.parse(r.entry));
    },
    async state(env) {
      const rotor = p.rotor();
      const store = await rotor.store();
      const row = await store.db
        .selectFrom('rotations')
        .select('state')
        .where('secret', '=', 'API_TOKEN')
        .where('environment', '=', env)
        .orderBy('started_at', 'desc')
        .executeTakeFirst();
      await rotor.close();
      return row?.state;
    },
  };
}

/** Rotates once through both environments with every step succeeding (the first versions). */
async function firstVersions(s: Setup): Promise<void> {
  const first = await s.p.cli(['rotate', 'API_TOKEN', '--json']);
  expect(first.code, first.stderr).toBe(0);
  rmSync(join(s.p.dir, 'hooks.log'), { force: true });
  received.length = 0;
  s.p.clock.advance(100 * DAY);
}

describe('staged flow: promote → deploy hooks → smoke tests → health checks', () => {
  it('runs every step per environment in order, the value only in ROTOR_SECRET, HTTP hooks signed', async () => {
    const s = await setup();
    await firstVersions(s);
    const rotated = await s.p.cli(['rotate', 'API_TOKEN', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const staging = await s.value('staging');
    const production = await s.value('production');
    const log = s.log();
    expect(log.map((l) => `${l.env}:${l.stage}:${l.argv.join(' ')}`)).toEqual([
      'staging:deploy:--restart',
      'staging:smoke:--smoke',
      'production:deploy:--restart',
      'production:smoke:--smoke',
    ]);
    expect(log.filter((l) => l.env === 'staging').every((l) => l.secret === staging)).toBe(true);
    expect(log.filter((l) => l.env === 'production').every((l) => l.secret === production)).toBe(
      true,
    );
    // Rotor's own variables (the master key above all) never reach a hook; the value never on argv.
    expect(log.flatMap((l) => l.rotorVars)).toEqual([]);
    expect(log.flatMap((l) => l.argv).some((a) => a === staging || a === production)).toBe(false);

    expect(received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /deploy/staging',
      'GET /healthz/staging',
      'POST /deploy/production',
      'GET /healthz/production',
    ]);
    const post = received[0]!;
    const expected = `v1=${createHmac('sha256', HOOK_KEY)
      .update(`${post.headers['x-rotor-timestamp'] as string}.${post.body}`)
      .digest('hex')}`;
    expect(post.headers['x-rotor-signature']).toBe(expected);
    expect(JSON.parse(post.body)).toMatchObject({
      event: 'rotor.deploy',
      secret: 'API_TOKEN',
      environment: 'staging',
    });
    expect(post.body).not.toContain(staging!);

    const actions = (await s.audit())
      .filter((a) => a.action.startsWith('rotate.'))
      .slice(-16)
      .map((a) => `${a.environment}:${a.action}`);
    expect(actions).toContain('staging:rotate.health');
    expect(actions.indexOf('staging:rotate.success')).toBeLessThan(
      actions.indexOf('production:rotate.start'),
    );
  });

  it('a failing staging smoke test stops before production, rolls staging back, and check is CRITICAL', async () => {
    const s = await setup();
    await firstVersions(s);
    const oldStaging = await s.value('staging');
    const oldProduction = await s.value('production');
    s.failAt('smoke', 'staging');
    const rotated = await s.p.cli(['rotate', 'API_TOKEN', '--json']);
    expect(rotated.code).not.toBe(0);
    const result = JSON.parse(rotated.stdout);
    expect(result.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      'failed',
      'skipped',
    ]);
    expect(result.results[0].error.code).toBe('ERR_ROTOR_STAGE_FAILED');
    expect(result.results[0].error.message).toContain(
      'smoke step "smoke script" failed: exit code 3',
    );
    // The hook printed the value on stderr; the error quotes its output with the value cut out.
    expect(result.results[0].error.message).toContain('[redacted]');
    expect(rotated.stdout + rotated.stderr).not.toContain(oldStaging!);

    expect(await s.value('staging')).toBe(oldStaging);
    expect(await s.value('production')).toBe(oldProduction);
    expect(await s.state('staging')).toBe('rolled_back');
    // Production was never touched: no rotation after the first, no hook, no request.
    expect(s.log().some((l) => l.env === 'production')).toBe(false);
    expect(received.some((r) => r.path.includes('production'))).toBe(false);
    // The deploy hook ran again with the restored value, so the app is back on it.
    const staged = s.log().filter((l) => l.stage === 'deploy');
    expect(staged.at(-1)!.secret).toBe(oldStaging);
    const audit = await s.audit();
    const rollback = audit.find((a) => a.action === 'rotate.rollback')!;
    expect(rollback).toMatchObject({ outcome: 'failure', environment: 'staging' });
    expect(JSON.stringify(audit)).not.toContain(oldStaging!);

    const check = await s.p.cli(['check']);
    expect(check.code).toBe(2);
    expect(check.stdout).toContain('CRITICAL');
  });

  it('a failing production health check rolls production back to the previous credential, still valid, and staging keeps the new one', async () => {
    const s = await setup();
    await firstVersions(s);
    const oldProduction = await s.value('production');
    answers.set('/healthz/production', [503, 503, 503]);
    const rotated = await s.p.cli(['rotate', 'API_TOKEN', '--json']);
    expect(rotated.code).not.toBe(0);
    const result = JSON.parse(rotated.stdout);
    expect(result.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      'succeeded',
      'failed',
    ]);
    expect(result.results[1].error.message).toMatch(
      /health step .* failed \(after 3 attempts\): answered 503, expected 2xx; rolled back/,
    );
    expect(await s.value('production')).toBe(oldProduction);
    expect(await s.state('production')).toBe('rolled_back');
    expect(await s.state('staging')).toBe('succeeded');
    // The rolled-back version was revoked: nothing but the restored current is live.
    expect(await s.value('production', 'previous')).toBeUndefined();
    const check = await s.p.cli(['check', '--json']);
    expect(check.code).toBe(2);
    // The next successful rotation clears it.
    answers.clear();
    s.p.clock.advance(DAY);
    const again = await s.p.cli(['rotate', 'API_TOKEN', '--env', 'production']);
    expect(again.code, again.stderr).toBe(0);
    expect((await s.p.cli(['check'])).code).toBe(0);
  });

  it('retries a health check until it answers, within its retries', async () => {
    const s = await setup();
    await firstVersions(s);
    answers.set('/healthz/staging', [502, 502]);
    const rotated = await s.p.cli(['rotate', 'API_TOKEN', '--env', 'staging', '--json']);
    expect(rotated.code, rotated.stdout).toBe(0);
    expect(received.filter((r) => r.path === '/healthz/staging')).toHaveLength(3);
  });

  it('without a previous version a failing step cannot roll back: the rotation fails and says so', async () => {
    const s = await setup();
    s.failAt('deploy', 'staging');
    const rotated = await s.p.cli(['rotate', 'API_TOKEN', '--json']);
    const result = JSON.parse(rotated.stdout);
    expect(result.results[0].error.message).toContain('no previous version to roll back to');
    expect(await s.value('staging')).toMatch(RANDOM_TOKEN);
    expect(await s.state('staging')).toBe('failed');
    expect((await s.p.cli(['check'])).code).toBe(2);
  });

  it('an emergency whose deploy hook fails keeps the new version current and the old one revoked, and fails loudly', async () => {
    const s = await setup();
    await firstVersions(s);
    const old = await s.value('production');
    s.failAt('deploy', 'production');
    const rotated = await s.p.cli([
      'rotate',
      'API_TOKEN',
      '--env',
      'production',
      '--emergency',
      '--reason',
      'leaked in a log',
      '--json',
    ]);
    expect(rotated.code).not.toBe(0);
    const now = await s.value('production');
    expect(now).toMatch(RANDOM_TOKEN);
    expect(now).not.toBe(old);
    expect(await s.value('production', 'previous')).toBeUndefined();
    expect(await s.state('production')).toBe('failed');
    expect((await s.p.cli(['check'])).code).toBe(2);
  });

  it('a command that outlives its timeout is stopped and fails the step', async () => {
    const pidFile = join(tmpdir(), `rotor-hang-${randomUUID()}.pid`);
    const s = await setup(`    deploy:
      - command: ["${process.execPath}", "-e", "${HANG}", "${pidFile}"]
        timeout: 1s`);
    const rotated = await s.p.cli(['rotate', 'API_TOKEN', '--env', 'staging', '--json']);
    expect(JSON.parse(rotated.stdout).results[0].error.message).toContain(
      'timed out after 1000 ms',
    );
    // Stopped, not waited out: the hour-long command goes away (a busy machine may take a moment).
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const end = Date.now() + 30_000;
    while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
    rmSync(pidFile, { force: true });
  });

  it('resume runs the staged flow again after a crash inside it, then finishes the rotation', async () => {
    const s = await setup();
    await firstVersions(s);
    const rotor = s.p.rotor();
    const crash = new Error('simulated crash');
    const engine = createRotationEngine({
      rotor,
      hooks: {
        afterJournal(point) {
          if (point === 'smoke:started') throw crash;
        },
      },
    });
    const result = await engine.rotate(actor, {
      secret: 'API_TOKEN',
      environments: ['staging'],
      method: 'manual',
    });
    expect(result.ok).toBe(false);
    await rotor.close();
    expect(await s.state('staging')).toBe('running');
    const resumed = await s.p.cli(['resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await s.state('staging')).toBe('succeeded');
    expect(s.log().filter((l) => l.stage === 'deploy' && l.env === 'staging')).toHaveLength(2);
  });
});

describe('staged flow: bad rotor.yaml', () => {
  const cases: [string, string, string][] = [
    [
      'an sql step on a kind without a database',
      `    smoke:\n      - sql: "select 1"`,
      'sql steps need a database kind',
    ],
    [
      'an unsigned POST hook',
      `    deploy:\n      - http: { url: "https://deploy.example/hook" }`,
      'a POST hook must be signed',
    ],
    [
      'a step limited to an environment the secret lacks',
      `    deploy:\n      - command: ["true"]\n        environments: [qa]`,
      '"qa" is not an environment of API_TOKEN',
    ],
    [
      'a step with two types',
      `    deploy:\n      - command: ["true"]\n        sql: "select 1"`,
      'exactly one of command',
    ],
    [
      'a non-http URL',
      `    health:\n      - http: { url: "file:///etc/passwd", method: GET }`,
      'must be an http:// or https:// URL',
    ],
    [
      'a key given in the file',
      `    deploy:\n      - http: { url: "https://x.example", key: "s3cr3t" }`,
      'never the key itself',
    ],
  ];
  for (const [name, steps, message] of cases) {
    it(`refuses ${name}, naming it, and changes nothing`, async () => {
      const p = await createProject({ policy: policy('') });
      p.writePolicy(policy(steps));
      const apply = await p.cli(['apply']);
      expect(apply.code).not.toBe(0);
      expect(apply.stderr).toContain(message);
      expect(apply.stderr).toMatch(/rotor\.yaml:\d+:\d+/);
    });
  }
});
