// Two `rotor serve` processes (the built CLI) on one PostgreSQL store: a rotation made through
// instance A reaches an SSE client of instance B (LISTEN/NOTIFY), both answer /readyz and follow
// the policy applied by the CLI, and when the scheduler's leader is killed with SIGKILL the other
// instance takes the lease over.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TestProject } from './helpers/project.js';
import { events, waitFor, type ServeProcess } from './helpers/serve-process.js';
import { requireService } from './helpers/services.js';
import { startTwoInstances, type TwoInstances } from './helpers/two-instances.js';

const postgres = await requireService('postgres');

const POLICY = `version: 1
environments: [staging]
secrets:
  SESSION_SECRET:
    kind: random
    cadence: 365d
    config: { bytes: 32, encoding: base64url }
`;

describe.skipIf(!postgres.available)('two rotor serve instances on one PostgreSQL store', () => {
  let t: TwoInstances | undefined;
  let project: TestProject;
  let a: ServeProcess;
  let b: ServeProcess;
  let admin: string;
  let app: string;

  beforeAll(async () => {
    t = await startTwoInstances({
      database: 'serve2',
      policy: POLICY,
      rotate: 'SESSION_SECRET',
      serveArgs: ['--scheduler-interval', '2s'],
    });
    ({ project, a, b, admin, app } = t);
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
  }, 60_000);

  test('an SSE client of B sees a rotation made through A; both are ready', async () => {
    for (const i of [a, b]) expect((await fetch(`${i.base}/readyz`)).status).toBe(200);
    const stream = await events(b.base, app);
    try {
      await waitFor('the stream to open', () => stream.text().length > 0);
      const rotated = await fetch(`${a.base}/v1/secrets/SESSION_SECRET/rotate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ environment: 'staging', reason: 'two instances' }),
      });
      expect(rotated.status, await rotated.clone().text()).toBe(200);
      const { results } = (await rotated.json()) as { results: { versionId: string }[] };
      const versionId = results[0]!.versionId;
      await waitFor('the rotation on B', () => stream.text().includes(versionId));
      expect(stream.text()).toContain('event: rotation');
    } finally {
      stream.close();
    }
  }, 120_000);

  test('both instances follow a policy applied by the CLI (NOTIFY on meta)', async () => {
    project.writePolicy(`${POLICY}  LATER_SECRET:
    kind: random
    cadence: 365d
    config: { bytes: 32, encoding: hex }
`);
    const applied = await project.cli(['apply']);
    expect(applied.code, applied.stderr).toBe(0);
    const rotated = await project.cli(['rotate', 'LATER_SECRET']);
    expect(rotated.code, rotated.stderr).toBe(0);
    // The NOTIFY may reach an instance just after the CLI returns: wait for it, generously.
    for (const i of [a, b]) {
      let last = '';
      const readable = async () => {
        const read = await fetch(`${i.base}/v1/secrets/LATER_SECRET/value?env=staging`, {
          headers: { authorization: `Bearer ${app}` },
        });
        last = `${read.status} ${await read.text()}`;
        return read.status === 200;
      };
      await waitFor('the applied secret on both instances', readable, 60_000).catch(() => {
        throw new Error(`never readable: ${last}`);
      });
    }
  }, 120_000);

  test('kill -9 of the scheduler leader: the other instance takes the lease over', async () => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: project.env.ROTOR_STORE_URL });
    client.on('error', () => undefined);
    await client.connect();
    const holder = async (): Promise<number | undefined> => {
      const { rows } = await client.query<{ pid: number }>('SELECT pid FROM scheduler_leases');
      return rows[0]?.pid;
    };
    try {
      const pids = [a.child.pid!, b.child.pid!];
      await waitFor('a leader', async () => pids.includes((await holder()) ?? -1));
      const leaderPid = (await holder())!;
      const [leader, other] = leaderPid === a.child.pid ? [a, b] : [b, a];
      leader.child.kill('SIGKILL');
      await once(leader.child, 'exit');
      // Same host, dead pid: the other instance's next tick takes over without waiting out the lease.
      await waitFor(
        'the other instance to lead',
        async () => (await holder()) === other.child.pid,
        150_000,
      );
      expect((await fetch(`${other.base}/readyz`)).status).toBe(200);
    } finally {
      await client.end();
    }
  }, 240_000);
});
