// The `aws-iam-access-key` rotator end to end through the real AWS SDK clients against a local,
// stateful fake of the IAM/STS Query APIs (test/fakes/aws-iam-fake.ts) that verifies every SigV4
// signature against its own key table, and s3rver for the S3 data path, whose accepted keys follow
// that table (test/fakes/s3-fake.ts). No AWS account is reached.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../src/core/audit/audit-log.js';
import { createRotationEngine, type EngineHooks } from '../src/core/rotation/rotation-engine.js';
import { createOutputMasker } from '../src/core/rotation/stages/mask-output.js';
import { openVersion } from '../src/core/vault/versions.js';
import { awsIamAccessKeyRotator } from '../src/rotators/aws-iam-access-key.js';
import { valueFromStore } from '../src/sdk/values/from-store.js';
import { FakeAws, type FakeKey } from './fakes/aws-iam-fake.js';
import { FakeS3 } from './fakes/s3-fake.js';
import { auditEntries } from './helpers/audit-entries.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { crashRotationAt } from './helpers/provider-crash.js';
import { BUILT } from './helpers/serve-process.js';

// The test's own SDK clients (stsWith, s3With) would print the SDK's Node-version warning into the
// test output; Rotor's clients silence it themselves (proven in a child process below).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const fake = new FakeAws();
const s3 = new FakeS3(fake, ['uploads']);
let endpoint = '';
let s3Endpoint = '';
beforeAll(async () => {
  endpoint = await fake.start();
  s3Endpoint = await s3.start();
});
afterAll(async () => {
  await s3.stop();
  await fake.stop();
});

const actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-0000000000a5',
  method: 'manual' as const,
};
let users = 0;

interface Fixture {
  p: TestProject;
  user: string;
  admin: FakeKey;
  rotate(o?: {
    emergency?: boolean;
    hooks?: EngineHooks;
  }): ReturnType<ReturnType<typeof createRotationEngine>['rotate']>;
  retire(o?: {
    now?: boolean;
    reason?: string;
  }): ReturnType<ReturnType<typeof createRotationEngine>['retire']>;
  stage(
    stage: 'current' | 'previous',
  ): Promise<{ accessKeyId: string; secretAccessKey: string } | undefined>;
  audit(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

async function fixture(
  options: {
    config?: string;
    deploy?: string;
    adminDeny?: string[];
    buckets?: string[];
  } = {},
): Promise<Fixture> {
  const user = `app-${process.pid}-${++users}`;
  const adminUser = `${user}-admin`;
  fake.addUser(user, { buckets: options.buckets ?? ['uploads'] });
  fake.addUser(adminUser, { deny: options.adminDeny ?? [] });
  const admin = fake.addKey(adminUser);
  const p = await createProject({
    policy: `version: 1
environments: [production]
secrets:
  S3_ACCESS_KEY:
    kind: aws-iam-access-key
    cadence: 180d
    grace: 1h
    config:
      userName: ${user}
      admin: { env: AWS_ADMIN_KEY }
      region: eu-west-1
      endpoints: { iam: "${endpoint}", sts: "${endpoint}", s3: "${s3Endpoint}" }
      s3: { bucket: uploads }
      variables: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY }
      verify: { attempts: 3, delayMs: 5 }
${options.config ?? ''}${options.deploy ?? ''}`,
  });
  p.env.AWS_ADMIN_KEY = JSON.stringify({
    accessKeyId: admin.id,
    secretAccessKey: admin.secret,
  });
  const rotor = p.rotor();
  return {
    p,
    user,
    admin,
    rotate: (o = {}) =>
      createRotationEngine({
        rotor,
        ...(o.hooks ? { hooks: o.hooks } : {}),
      }).rotate(actor, {
        secret: 'S3_ACCESS_KEY',
        method: o.emergency ? 'emergency' : 'manual',
        ...(o.emergency ? { emergency: true, reason: 'key seen in a public repository' } : {}),
      }),
    retire: (o = {}) => createRotationEngine({ rotor }).retire(actor, { ...o }),
    async stage(stage) {
      const store = await rotor.store();
      const row = await store.db
        .selectFrom('versions')
        .selectAll()
        .where('secret', '=', 'S3_ACCESS_KEY')
        .where('stage', '=', stage)
        .executeTakeFirst();
      return row
        ? (JSON.parse(openVersion(await rotor.masterKey(), row)) as {
            accessKeyId: string;
            secretAccessKey: string;
          })
        : undefined;
    },
    audit: () => auditEntries(rotor),
    close: () => rotor.close(),
  };
}

/** Runs node with `args` in a child process; resolves with its exit status and output. */
function spawnText(args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const keys = (user: string) => fake.keysOf(user).map((k) => ({ id: k.id, status: k.status }));
const callsBy = (keyId: string) => fake.calls.filter((c) => c.keyId === keyId);

async function stsWith(key: { id: string; secret: string }) {
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({
    region: 'eu-west-1',
    endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
  });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn;
  } catch (error) {
    return (error as Error).name;
  } finally {
    sts.destroy();
  }
}

/** One S3 request signed by `key`, as an app makes it: 'ok' (or the object read) or S3's error. */
async function s3With(
  key: { id: string; secret: string },
  op: 'list' | 'put' | 'get' | 'unsigned' = 'list',
  bucket = 'uploads',
): Promise<string> {
  const { S3Client, ListObjectsV2Command, PutObjectCommand, GetObjectCommand } =
    await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: 'eu-west-1',
    endpoint: s3Endpoint,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
    // An unsigned request: a signer that leaves the request as it is.
    ...(op === 'unsigned' ? { signer: { sign: <R>(request: R) => Promise.resolve(request) } } : {}),
  });
  try {
    if (op === 'put')
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k.txt', Body: key.id }));
    else if (op === 'get')
      return await (
        await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'k.txt' }))
      ).Body!.transformToString();
    else await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 0 }));
    return 'ok';
  } catch (error) {
    return (error as Error).name;
  } finally {
    client.destroy();
  }
}

describe('the local S3 (s3rver behind the IAM key table) refuses what S3 refuses', () => {
  it('an unsigned request, a wrong signature, an unknown or deactivated key, a bucket not granted', async () => {
    fake.addUser('s3-self-test', { buckets: ['uploads'] });
    const key = fake.addKey('s3-self-test');
    expect(s3.registered(key.id)).toBe(true);
    expect(await s3With(key, 'put')).toBe('ok');
    expect(await s3With(key, 'get')).toBe(key.id);
    expect(await s3With(key, 'unsigned')).toBe('AccessDenied');
    expect(await s3With({ id: key.id, secret: 'w'.repeat(40) })).toBe('SignatureDoesNotMatch');
    expect(await s3With({ id: 'AKIAUNKNOWNUNKNOWN22', secret: key.secret })).toBe(
      'InvalidAccessKeyId',
    );
    expect(await s3With(key, 'list', 'elsewhere')).toBe('AccessDenied');
    fake.users.get('s3-self-test')!.buckets.add('missing');
    expect(await s3With(key, 'list', 'missing')).toBe('NoSuchBucket');
    // Deactivated through the IAM API: s3rver's own registry no longer holds the key.
    const { IAMClient, UpdateAccessKeyCommand } = await import('@aws-sdk/client-iam');
    const admin = fake.addKey('s3-self-test');
    const iam = new IAMClient({
      region: 'us-east-1',
      endpoint,
      maxAttempts: 1,
      credentials: { accessKeyId: admin.id, secretAccessKey: admin.secret },
    });
    await iam.send(new UpdateAccessKeyCommand({ AccessKeyId: key.id, Status: 'Inactive' }));
    expect(s3.registered(key.id)).toBe(false);
    expect(await s3With(key)).toBe('InvalidAccessKeyId');
    expect(fake.calls.at(-1)).toMatchObject({ service: 's3', outcome: 'InvalidAccessKeyId' });
    await iam.send(new UpdateAccessKeyCommand({ AccessKeyId: key.id, Status: 'Active' }));
    expect(s3.registered(key.id)).toBe(true);
    expect(await s3With(key)).toBe('ok');
    iam.destroy();
  });
});

describe('the local IAM/STS fake refuses what AWS refuses', () => {
  it('a wrong signature, an unknown key, an inactive key and a third key', async () => {
    fake.addUser('fake-self-test');
    const key = fake.addKey('fake-self-test');
    expect(await stsWith(key)).toBe('arn:aws:iam::123456789012:user/fake-self-test');
    expect(
      await stsWith({
        id: key.id,
        secret: key.secret.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      }),
    ).toBe('SignatureDoesNotMatch');
    expect(await stsWith({ id: 'AKIAUNKNOWNUNKNOWN22', secret: key.secret })).toBe(
      'InvalidClientTokenId',
    );
    const { IAMClient, CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
    const iam = new IAMClient({
      region: 'us-east-1',
      endpoint,
      maxAttempts: 1,
      credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
    });
    await iam.send(new CreateAccessKeyCommand({}));
    await expect(iam.send(new CreateAccessKeyCommand({}))).rejects.toMatchObject({
      name: 'LimitExceededException',
    });
    key.status = 'Inactive';
    expect(await stsWith(key)).toBe('InvalidClientTokenId');
    iam.destroy();
  });
});

describe('masking of a key pair in errors', () => {
  it('an error may name the access key id but never the secret access key, in any encoding', () => {
    const pair = JSON.stringify({
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });
    const mask = createOutputMasker([pair]);
    const out = mask(
      `key AKIAIOSFODNN7EXAMPLE said wJalrXUtnFEMI/K7MDENG and ${Buffer.from('bPxRfiCYEXAMPLEKEY').toString('base64')} and ${pair}`,
    );
    expect(out).toContain('key AKIAIOSFODNN7EXAMPLE said');
    expect(out).not.toContain('wJalrXUt');
    expect(out).not.toContain('bPxRfiCY');
    expect(out).not.toContain(Buffer.from('bPxRfiCYEXAMPLEKEY').toString('base64').slice(0, 12));
  });
});

describe('aws-iam-access-key', () => {
  it('rotates an imported key: new key verified by STS and S3 with its own signature, old one deactivated at retire and refused', async () => {
    const f = await fixture();
    const k0 = fake.addKey(f.user);
    const imported = await f.p.cli(['import', 'S3_ACCESS_KEY', '--env', 'production'], {
      stdin: `${k0.id}:${k0.secret}`,
    });
    expect(imported.code, imported.stderr).toBe(0);

    const result = await f.rotate();
    expect(result.ok, JSON.stringify(result.results)).toBe(true);
    const k1 = (await f.stage('current'))!;
    expect(k1.accessKeyId).not.toBe(k0.id);
    expect(keys(f.user)).toEqual([
      { id: k0.id, status: 'Active' },
      { id: k1.accessKeyId, status: 'Active' },
    ]);
    // Verified by calls the fake authenticated with the new key itself.
    expect(callsBy(k1.accessKeyId).map((c) => `${c.service} ${c.action} ${c.outcome}`)).toEqual([
      'sts GetCallerIdentity ok',
      's3 HEAD bucket ok',
    ]);
    expect(fake.users.get(f.user)!.tags.get(k1.accessKeyId)).toMatch(
      new RegExp(`^rotor S3_ACCESS_KEY/production \\S+ after ${k0.id}$`),
    );
    expect(await stsWith(k0)).toMatch(/user\//); // still valid in its grace window

    f.p.clock.advance(2 * 3_600_000);
    const retired = await f.retire();
    expect(retired.map((r) => r.postponed ?? false)).toEqual([false]);
    expect(fake.keys.get(k0.id)?.status).toBe('Inactive'); // kept until deleteAfter: re-activation is the undo
    expect(await stsWith(k0)).toBe('InvalidClientTokenId');
    // The proof: STS, then the S3 data path, each refusing the retired key's own request.
    expect(
      callsBy(k0.id)
        .slice(-3, -1)
        .map((c) => `${c.service} ${c.action} ${c.outcome}`),
    ).toEqual(['sts GetCallerIdentity InvalidClientTokenId', 's3 GET bucket InvalidAccessKeyId']);
    const verified = (await f.audit()).filter((e) => e.action === 'retire.verified');
    expect(verified.map((e) => [e.outcome, e.notes])).toEqual([
      [
        'success',
        expect.stringContaining(
          `sts:GetCallerIdentity signed by access key ${k0.id} answered InvalidClientTokenId; s3:ListObjectsV2 on "uploads" signed by it answered InvalidAccessKeyId`,
        ),
      ],
    ]);

    // The next rotation deletes the deactivated leftover to make room, and never touches others.
    f.p.clock.advance(30 * DAY);
    expect((await f.rotate()).ok).toBe(true);
    const k2 = (await f.stage('current'))!;
    expect(keys(f.user).map((k) => k.id)).toEqual([k1.accessKeyId, k2.accessKeyId]);
    expect(fake.users.get(f.user)!.tags.has(k0.id)).toBe(false);

    const audit = JSON.stringify(await f.audit());
    for (const secret of [k0.secret, k1.secretAccessKey, k2.secretAccessKey, f.admin.secret])
      expect(audit).not.toContain(secret);
    await f.close();
  });

  it('a retired key STS still accepts after every attempt is audited as CRITICAL, never as revoked', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = (await f.stage('current'))!;
    expect((await f.rotate()).ok).toBe(true);
    fake.deactivationLagUses = 100;
    f.p.clock.advance(2 * 3_600_000);
    await f.retire();
    fake.deactivationLagUses = 0;
    const verified = (await f.audit()).filter((e) => e.action === 'retire.verified');
    expect(verified.map((e) => e.outcome)).toEqual(['failure']);
    expect(verified[0]!.notes).toContain(
      `access key ${k1.accessKeyId} was still accepted after 3 attempt(s)`,
    );
    expect((await f.p.cli(['check'])).code).toBe(2);
    await f.close();
  });

  it('rotor rotate through the CLI prints and audits key ids, never a secret', async () => {
    const f = await fixture();
    const out = await f.p.cli(['rotate', 'S3_ACCESS_KEY', '--env', 'production', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const cur = (await f.stage('current'))!;
    const text = out.stdout + out.stderr + (await f.p.cli(['audit', 'list', '--json'])).stdout;
    expect(text).not.toContain(cur.secretAccessKey);
    expect(text).not.toContain(f.admin.secret);
    f.p.env.AWS_ADMIN_KEY = JSON.stringify({
      accessKeyId: f.admin.id,
      secretAccessKey: 'y'.repeat(40),
    });
    const refused = await f.p.cli(['rotate', 'S3_ACCESS_KEY', '--env', 'production']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr, JSON.stringify(refused)).toContain(
      'ERR_ROTOR_PROVIDER_AUTH_FAILED',
    );
    expect(refused.stdout + refused.stderr).not.toContain('y'.repeat(40));
    await f.close();
  });

  it('rotor status notes that the runbook prefers a role with short-lived credentials', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const status = await f.p.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(
      'note: S3_ACCESS_KEY (aws-iam-access-key): the runbook prefers an IAM role with short-lived credentials',
    );
    await f.close();
  });

  it('rotor run delivers the pair as the variables the app expects, previous ones during grace', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const prev = (await f.stage('current'))!;
    expect((await f.rotate()).ok).toBe(true);
    const cur = (await f.stage('current'))!;
    // The child writes what it sees to a file (rotor run hands it this process's stdio).
    const seen = join(f.p.dir, 'seen.json');
    const print = `const e = process.env; require('fs').writeFileSync(${JSON.stringify(seen)}, JSON.stringify([e.S3_ACCESS_KEY_ID, e.S3_SECRET_ACCESS_KEY, e.S3_ACCESS_KEY_ID_PREVIOUS, e.S3_SECRET_ACCESS_KEY_PREVIOUS]))`;
    const out = await f.p.cli(['run', '--env', 'production', '--', process.execPath, '-e', print]);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(readFileSync(seen, 'utf8'))).toEqual([
      cur.accessKeyId,
      cur.secretAccessKey,
      prev.accessKeyId,
      prev.secretAccessKey,
    ]);
    f.p.clock.advance(2 * 3_600_000);
    const after = await f.p.cli(
      ['run', '--env', 'production', '--', process.execPath, '-e', print],
      { env: { S3_ACCESS_KEY_ID_PREVIOUS: 'stale' } },
    );
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(readFileSync(seen, 'utf8'))).toEqual([
      cur.accessKeyId,
      cur.secretAccessKey,
      null,
      null,
    ]);
    const exported = await f.p.cli(['export', '--env', 'production', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const vars = JSON.parse(exported.stdout) as Record<string, string>;
    expect([vars.S3_ACCESS_KEY_ID, vars.S3_SECRET_ACCESS_KEY]).toEqual([
      cur.accessKeyId,
      cur.secretAccessKey,
    ]);
    await f.close();
  });

  it('the SDK, rotor export and rotor status see one secret whose halves come from one version', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    expect((await f.rotate()).ok).toBe(true);
    const cur = (await f.stage('current'))!;
    const source = valueFromStore({ dir: f.p.dir, environment: 'production', env: {} });
    try {
      const pair = JSON.parse(await source.load('S3_ACCESS_KEY')) as typeof cur;
      expect(pair).toEqual(cur);
      expect(await s3With({ id: pair.accessKeyId, secret: pair.secretAccessKey }, 'put')).toBe(
        'ok',
      );
    } finally {
      await source.close();
    }
    const exported = await f.p.cli(['export', '--env', 'production', '--json']);
    const vars = JSON.parse(exported.stdout) as Record<string, string>;
    expect(JSON.parse(vars.S3_ACCESS_KEY!)).toEqual({
      accessKeyId: vars.S3_ACCESS_KEY_ID,
      secretAccessKey: vars.S3_SECRET_ACCESS_KEY,
    });
    const status = JSON.parse((await f.p.cli(['status', '--json'])).stdout) as unknown;
    expect(JSON.stringify(status)).toContain('"S3_ACCESS_KEY"');
    expect(JSON.stringify(status)).not.toContain('S3_ACCESS_KEY_ID');
    await f.close();
  });

  it("the app's S3 calls work with the pair rotor run hands it; after retire S3 itself refuses the old key", async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = (await f.stage('current'))!;
    expect((await f.rotate()).ok).toBe(true);
    const k2 = (await f.stage('current'))!;
    // The app: an S3 client built from the two variables rotor run sets, writing then reading.
    const seen = join(f.p.dir, 's3-app.json');
    const sdk = join(process.cwd(), 'node_modules', '@aws-sdk', 'client-s3');
    const app = `
      const { S3Client, PutObjectCommand, GetObjectCommand } = require(${JSON.stringify(sdk)});
      const e = process.env;
      const s3 = new S3Client({ region: 'eu-west-1', endpoint: e.S3_ENDPOINT, forcePathStyle: true,
        maxAttempts: 1, credentials: { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY } });
      (async () => {
        await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'app.txt', Body: 'written by ' + e.S3_ACCESS_KEY_ID }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'app.txt' }));
        require('fs').writeFileSync(${JSON.stringify(seen)}, await got.Body.transformToString());
      })().catch((err) => { require('fs').writeFileSync(${JSON.stringify(seen)}, 'failed: ' + err.name); });`;
    const ran = await f.p.cli(['run', '--env', 'production', '--', process.execPath, '-e', app], {
      env: { S3_ENDPOINT: s3Endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    expect(ran.code, ran.stderr).toBe(0);
    expect(readFileSync(seen, 'utf8')).toBe(`written by ${k2.accessKeyId}`);
    const old = { id: k1.accessKeyId, secret: k1.secretAccessKey };
    expect(await s3With(old)).toBe('ok'); // the previous key still works in its grace window

    f.p.clock.advance(2 * 3_600_000);
    expect((await f.retire()).map((r) => r.postponed ?? false)).toEqual([false]);
    expect(s3.registered(k1.accessKeyId)).toBe(false);
    expect(await s3With(old)).toBe('InvalidAccessKeyId');
    expect(await s3With(old, 'put')).toBe('InvalidAccessKeyId');
    expect(await s3With({ id: k2.accessKeyId, secret: k2.secretAccessKey }, 'put')).toBe('ok');
    await f.close();
  });

  it('an emergency rotation makes S3 refuse the previous key at once, without waiting for grace', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = (await f.stage('current'))!;
    const old = { id: k1.accessKeyId, secret: k1.secretAccessKey };
    expect(await s3With(old)).toBe('ok');
    const emergency = await f.rotate({ emergency: true });
    expect(emergency.ok, JSON.stringify(emergency.results)).toBe(true);
    const k2 = (await f.stage('current'))!;
    expect(s3.registered(k1.accessKeyId)).toBe(false);
    expect(await s3With(old)).toBe('InvalidAccessKeyId');
    expect(await s3With({ id: k2.accessKeyId, secret: k2.secretAccessKey })).toBe('ok');
    const verified = (await f.audit()).filter((e) => e.action === 'retire.verified');
    expect(verified.at(-1)?.notes).toContain(
      `s3:ListObjectsV2 on "uploads" signed by it answered InvalidAccessKeyId`,
    );
    await f.close();
  });

  it('the AWS SDK prints no NodeVersionSupportWarning to stderr, and other warnings still print', async () => {
    const f = await fixture();
    const project = [
      '--config',
      join(f.p.dir, 'rotor.yaml'),
      '--state-dir',
      join(f.p.dir, '.rotor'),
    ];
    // Asynchronously: the fakes answer from this very process.
    const run = await spawnText(
      [BUILT, ...project, 'rotate', 'S3_ACCESS_KEY', '--env', 'production'],
      f.p.env,
    );
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect((await f.stage('current'))?.accessKeyId).toMatch(/^AKIA/); // the SDK did run
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect(run.stderr).not.toMatch(/Warning/);
    // The switch is Rotor's only while it builds a client: not left set, and not a blanket mute.
    const clients = join(process.cwd(), 'dist', 'rotators', 'aws', 'aws-clients.js');
    const probe = await spawnText(
      [
        '--input-type=module',
        '-e',
        `const { stsClient } = await import(${JSON.stringify(clients)});
         const ctx = { config: { region: 'eu-west-1', maxAttempts: 1, timeoutMs: 1000 } };
         (await stsClient(ctx, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x'.repeat(40) })).destroy();
         process.emitWarning('another warning');
         console.log(String(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED));`,
      ],
      { PATH: process.env.PATH },
    );
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout.trim()).toBe('undefined');
    expect(probe.stderr).toContain('another warning');
    expect(probe.stderr).not.toContain('NodeVersionSupportWarning');
    await f.close();
  }, 180_000);

  it('refuses, naming both keys, when the user already has two keys Rotor does not own; nothing changes', async () => {
    const f = await fixture();
    const a = fake.addKey(f.user);
    const b = fake.addKey(f.user);
    const result = await f.rotate();
    expect(result.ok).toBe(false);
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_KEY_LIMIT');
    expect(result.results[0]!.error?.message).toContain(a.id);
    expect(result.results[0]!.error?.message).toContain(b.id);
    expect(keys(f.user)).toEqual([
      { id: a.id, status: 'Active' },
      { id: b.id, status: 'Active' },
    ]);
    expect(
      fake.calls.filter((c) => c.keyId === f.admin.id && c.action === 'CreateAccessKey'),
    ).toEqual([]);
    expect(await f.stage('current')).toBeUndefined();
    await f.close();
  });

  it('a second rotation inside the grace window is refused; an emergency deletes the previous key and deactivates the current one at once', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    f.p.clock.advance(DAY);
    const k1 = (await f.stage('current'))!;
    expect((await f.rotate()).ok).toBe(true);
    const k2 = (await f.stage('current'))!;
    const refused = await f.rotate();
    expect(refused.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_KEY_LIMIT');
    expect(refused.results[0]!.error?.message).toMatch(
      new RegExp(
        `${k1.accessKeyId} \\(Active, the previous version.*${k2.accessKeyId}|${k2.accessKeyId}.*${k1.accessKeyId} \\(Active, the previous version`,
      ),
    );

    const emergency = await f.rotate({ emergency: true });
    expect(emergency.ok, JSON.stringify(emergency.results)).toBe(true);
    const k3 = (await f.stage('current'))!;
    expect(fake.keys.has(k1.accessKeyId)).toBe(false);
    expect(fake.keys.get(k2.accessKeyId)?.status).toBe('Inactive');
    expect(await stsWith({ id: k2.accessKeyId, secret: k2.secretAccessKey })).toBe(
      'InvalidClientTokenId',
    );
    expect(await stsWith({ id: k3.accessKeyId, secret: k3.secretAccessKey })).toContain(f.user);
    expect(emergency.results[0]!.emergencyActions?.join(' ')).toContain('deactivated at once');
    await f.close();
  });

  it('a wrong or missing admin credential, or one without iam:CreateAccessKey, fails clearly and changes nothing', async () => {
    const f = await fixture({ adminDeny: ['iam:CreateAccessKey'] });
    const denied = await f.rotate();
    expect(denied.results[0]!.error).toMatchObject({
      code: 'ERR_ROTOR_PROVIDER_PERMISSION_MISSING',
    });
    expect(denied.results[0]!.error?.message).toContain('iam:CreateAccessKey');

    const wrong = { accessKeyId: f.admin.id, secretAccessKey: 'x'.repeat(40) };
    f.p.env.AWS_ADMIN_KEY = JSON.stringify(wrong);
    const refused = await f.rotate();
    expect(refused.results[0]!.error).toMatchObject({
      code: 'ERR_ROTOR_PROVIDER_AUTH_FAILED',
    });
    expect(refused.results[0]!.error?.message).toMatch(
      /AWS iam:ListAccessKeys refused the admin credential \(SignatureDoesNotMatch/,
    );

    delete f.p.env.AWS_ADMIN_KEY;
    const missing = await f.rotate();
    expect(missing.results[0]!.error).toMatchObject({
      code: 'ERR_ROTOR_PROVIDER_ADMIN_MISSING',
    });
    expect(missing.results[0]!.error?.message).toContain('environment variable AWS_ADMIN_KEY');

    f.p.env.AWS_ADMIN_KEY = 'not-a-key';
    const malformed = await f.rotate();
    expect(malformed.results[0]!.error).toMatchObject({
      code: 'ERR_ROTOR_VALUE_INVALID',
    });
    expect(malformed.results[0]!.error?.message).not.toContain('not-a-key');

    expect(keys(f.user)).toEqual([]);
    expect(await f.stage('current')).toBeUndefined();
    const audit = JSON.stringify(await f.audit());
    expect(audit).not.toContain(f.admin.secret);
    expect(audit).not.toContain('x'.repeat(40));
    await f.close();
  });

  it('a provider 5xx during create promotes nothing; a failure after CreateAccessKey takes the new key back', async () => {
    const f = await fixture({ config: '      maxAttempts: 2\n' });
    fake.failures.set('CreateAccessKey', 503);
    const down = await f.rotate();
    fake.failures.delete('CreateAccessKey');
    expect(down.results[0]!.error).toMatchObject({
      code: 'ERR_ROTOR_PROVIDER_UNAVAILABLE',
    });
    expect(down.results[0]!.error?.message).toContain('iam:CreateAccessKey failed with HTTP 503');
    expect(
      fake.calls.filter((c) => c.keyId === f.admin.id && c.action === 'CreateAccessKey').length,
    ).toBe(2); // the SDK retried once

    fake.failures.set('TagUser', 500);
    const tagFailed = await f.rotate();
    fake.failures.delete('TagUser');
    expect(tagFailed.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_UNAVAILABLE');
    expect(keys(f.user)).toEqual([]);
    expect(await f.stage('current')).toBeUndefined();
    await f.close();
  });

  it('retries the new key while IAM propagates it, and refuses to promote one STS never accepts', async () => {
    const f = await fixture();
    fake.propagationUses = 2;
    const slow = await f.rotate();
    expect(slow.ok, JSON.stringify(slow.results)).toBe(true);
    const k1 = (await f.stage('current'))!;
    expect(callsBy(k1.accessKeyId).map((c) => c.outcome)).toEqual([
      'InvalidClientTokenId',
      'InvalidClientTokenId',
      'ok',
      'ok',
    ]);

    fake.propagationUses = 50;
    f.p.clock.advance(2 * 3_600_000);
    await f.retire();
    const never = await f.rotate();
    fake.propagationUses = 0;
    expect(never.results[0]!.error).toMatchObject({
      code: 'ERR_ROTOR_VERIFY_FAILED',
    });
    expect(never.results[0]!.error?.message).toMatch(
      /STS still refused the new access key AKIA\w+ after 3 attempt\(s\)/,
    );
    expect((await f.stage('current'))!.accessKeyId).toBe(k1.accessKeyId);
    // The unverified key was deactivated when the rotation failed; the next rotation removes it.
    expect(
      keys(f.user)
        .filter((k) => k.id !== k1.accessKeyId)
        .map((k) => k.status),
    ).toEqual(['Inactive']);
    expect((await f.rotate()).ok).toBe(true);
    expect(keys(f.user).length).toBe(2);
    await f.close();
  });

  it('a failed S3 HeadBucket before promotion leaves the old key current and working, and takes the new key back', async () => {
    const first = await fixture({ buckets: [] });
    const refused = await first.rotate();
    expect(refused.results[0]!.error).toMatchObject({ code: 'ERR_ROTOR_VERIFY_FAILED' });
    expect(refused.results[0]!.error?.message).toContain('S3 HeadBucket on "uploads"');
    expect(await first.stage('current')).toBeUndefined();
    await first.close();

    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = (await f.stage('current'))!;
    f.p.clock.advance(2 * 3_600_000);
    await f.retire();
    // The user loses s3:ListBucket on the bucket: the new key's HeadBucket answers 403.
    const grants = fake.users.get(f.user)!.buckets;
    grants.delete('uploads');
    const failed = await f.rotate();
    grants.add('uploads');
    expect(failed.results[0]!.error).toMatchObject({ code: 'ERR_ROTOR_VERIFY_FAILED' });
    expect(failed.results[0]!.error?.message).toMatch(
      /S3 HeadBucket on "uploads" with the new access key (AKIA\w+) answered HTTP 403 after 3 attempt\(s\)/,
    );
    const made = /new access key (AKIA\w+)/.exec(failed.results[0]!.error!.message)![1]!;
    expect((await f.stage('current'))!.accessKeyId).toBe(k1.accessKeyId);
    expect(await s3With({ id: k1.accessKeyId, secret: k1.secretAccessKey }, 'put')).toBe('ok');
    // The new key: deactivated in IAM, so S3 refuses it, and deleted by the next rotation.
    expect(fake.keys.get(made)?.status).toBe('Inactive');
    expect(s3.registered(made)).toBe(false);
    expect((await f.rotate()).ok).toBe(true);
    expect(fake.keys.has(made)).toBe(false);
    await f.close();
  });

  it('a failing deploy hook rolls back: the old key is current and active again, the new one deactivated', async () => {
    const f = await fixture({
      deploy: `    deploy:\n      - command: ["${process.execPath}", "-e", "process.exit(process.env.ROTOR_SECRET.length > 0 && process.env.FAIL_DEPLOY ? 1 : 0)"]\n`,
    });
    expect((await f.rotate()).ok).toBe(true);
    const k1 = (await f.stage('current'))!;
    f.p.clock.advance(2 * 3_600_000);
    await f.retire();
    f.p.env.FAIL_DEPLOY = '1';
    const failed = await f.rotate();
    delete f.p.env.FAIL_DEPLOY;
    expect(failed.results[0]!.error?.code).toBe('ERR_ROTOR_STAGE_FAILED');
    expect((await f.stage('current'))!.accessKeyId).toBe(k1.accessKeyId);
    expect(fake.keys.get(k1.accessKeyId)?.status).toBe('Active');
    expect(
      fake
        .keysOf(f.user)
        .filter((k) => k.id !== k1.accessKeyId)
        .map((k) => k.status),
    ).toEqual(['Inactive']);
    await f.close();
  });

  it('a key left by a rotation interrupted between CreateAccessKey and storing it is deleted by the next one', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = (await f.stage('current'))!;
    f.p.clock.advance(2 * 3_600_000);
    await f.retire();
    // What a process killed right after create would leave: a tagged key whose secret nobody holds.
    const rotor = f.p.rotor();
    const config = rotor.secret('S3_ACCESS_KEY').config;
    const orphan = await awsIamAccessKeyRotator.create({
      secret: 'S3_ACCESS_KEY',
      environment: 'production',
      versionId: '11111111-1111-4111-8111-111111111111',
      config: config as never,
      clock: f.p.clock,
      emergency: false,
      env: f.p.env,
      readSecret: async () => JSON.stringify(k1),
    });
    await rotor.close();
    const orphanId = String(orphan.meta.accessKeyId);
    expect(fake.keys.get(orphanId)?.status).toBe('Active');
    expect((await f.rotate()).ok).toBe(true);
    expect(fake.keys.has(orphanId)).toBe(false);
    expect(keys(f.user).map((k) => k.id)).toContain(k1.accessKeyId);
    await f.close();
  });

  it('a process killed after verify is finished by rotor resume; one killed before it is rolled back and its key deactivated', async () => {
    const f = await fixture();
    const crash = (point: string) => crashRotationAt(f.p, point, 'S3_ACCESS_KEY', 'AWS_ADMIN_KEY');
    await crash('verify:started');
    expect((await f.p.cli(['resume', '--json'])).stdout).toContain('rolled-back');
    expect(fake.keysOf(f.user).map((k) => k.status)).toEqual(['Inactive']);
    expect(await f.stage('current')).toBeUndefined();

    await crash('verify:done');
    const resumed = await f.p.cli(['resume', '--json']);
    expect(resumed.stdout).toContain('completed');
    const cur = (await f.stage('current'))!;
    expect(await stsWith({ id: cur.accessKeyId, secret: cur.secretAccessKey })).toContain(f.user);
    expect(keys(f.user)).toEqual([{ id: cur.accessKeyId, status: 'Active' }]);
    await f.close();
  }, 180_000);

  it('a process killed inside create has the key it tagged for that version deleted by rotor resume, audited; the current key still works, a key tagged otherwise stays', async () => {
    const f = await fixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = (await f.stage('current'))!;
    const crash = (point: string) => crashRotationAt(f.p, point, 'S3_ACCESS_KEY', 'AWS_ADMIN_KEY');
    await crash('create:done');
    const orphan = fake.keysOf(f.user).find((k) => k.id !== k1.accessKeyId)!;
    expect(orphan.status).toBe('Active');
    expect(await stsWith(orphan)).toContain(f.user);
    const resumed = await f.p.cli(['resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('rolled-back');
    expect(keys(f.user)).toEqual([{ id: k1.accessKeyId, status: 'Active' }]);
    expect(fake.users.get(f.user)!.tags.has(orphan.id)).toBe(false);
    expect(await stsWith({ id: k1.accessKeyId, secret: k1.secretAccessKey })).toContain(f.user);
    const rollback = (await f.audit()).filter((e) => e.action === 'rotate.rollback');
    expect(rollback).toHaveLength(1);
    expect(rollback[0]!.notes).toContain(`deleted IAM access key ${orphan.id} of user ${f.user}`);
    expect(rollback[0]!.details).toMatchObject({ abandoned: 1, version: null });
    const all = [resumed.stdout, resumed.stderr, JSON.stringify(await f.audit())].join('\n');
    for (const secret of [orphan.secret, k1.secretAccessKey]) expect(all).not.toContain(secret);

    // A key whose tag names another version (not provably this rotation's) is not touched.
    await crash('create:done');
    const second = fake.keysOf(f.user).find((k) => k.id !== k1.accessKeyId)!;
    const tags = fake.users.get(f.user)!.tags;
    tags.set(
      second.id,
      tags
        .get(second.id)!
        .replace(/^rotor (\S+) \S+/, 'rotor $1 22222222-2222-4222-8222-222222222222'),
    );
    const again = await f.p.cli(['resume', '--json']);
    expect(again.stdout).toContain('rolled-back');
    expect(fake.keys.get(second.id)?.status).toBe('Active');
    const notes = (await f.audit()).filter((e) => e.action === 'rotate.rollback')[1]!.notes;
    expect(notes).toMatch(/nothing made for version \S+ was found at the provider/);
    await f.close();
  }, 180_000);

  it('rejects bad config and bad imported values without quoting them', async () => {
    const f = await fixture();
    const bad = await f.p.cli(['import', 'S3_ACCESS_KEY', '--env', 'production'], {
      stdin: 'AKIAONLYANID:short',
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('ERR_ROTOR_VALUE_INVALID');
    expect(bad.stderr).not.toContain('short');
    const parsed = awsIamAccessKeyRotator.configSchema.safeParse({
      userName: 'app',
      admin: { value: 'AKIA:secret' },
    });
    expect(parsed.success).toBe(false);
    expect(
      awsIamAccessKeyRotator.configSchema.safeParse({
        userName: 'app',
        admin: { env: 'K' },
        extra: 1,
      }).success,
    ).toBe(false);
    await f.close();
  });
});
