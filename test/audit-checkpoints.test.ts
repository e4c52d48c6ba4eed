// Signed audit checkpoints: an attacker with write access to the SQLite file (triggers dropped,
// rows rewritten and the whole chain recomputed, the tail cut, a checkpoint forged with another
// key) passes the hash chain alone but not `rotor audit verify --checkpoints`. Publishing goes to
// a directory or a real loopback HTTP server; a failed publication is a WARNING in `rotor check`
// and never blocks a rotation; a missing key is named; no private key material leaks anywhere.
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import {
  appendFileSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { chainHash, GENESIS_HASH } from '../src/core/audit/audit-log.js';
import { publishDueCheckpoint } from '../src/core/audit/checkpoint-publish.js';
import { signCheckpoint } from '../src/core/audit/checkpoint-sign.js';
import { checkpointFileName } from '../src/core/audit/checkpoint-target.js';
import { seedAuditLog } from '../bench/audit-log-seed.js';
import { createProject, type Captured, type TestProject } from './helpers/project.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  p: TestProject;
  db: string;
  ckptDir: string;
  keyFile: string;
  pubFile: string;
  outputs: string[];
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<Captured>;
  seed(rows: number): void;
  attacker(fn: (db: BetterSqlite3.Database) => void): void;
}

async function setup(options: { to?: string; key?: string; every?: string } = {}): Promise<Setup> {
  const p = await createProject();
  cleanups.push(() => rmSync(p.dir, { recursive: true, force: true }));
  const outputs: string[] = [];
  const cli = async (args: string[], env?: NodeJS.ProcessEnv) => {
    const r = await p.cli(args, env ? { env } : {});
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const keyFile = join(p.dir, 'keys', 'checkpoint.key');
  const ckptDir = join(p.dir, 'checkpoints');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(p.dir, 'keys'));
  const keygen = await cli(['audit', 'checkpoint', 'keygen', '--out', keyFile]);
  expect(keygen.code, keygen.stderr).toBe(0);
  appendFileSync(
    join(p.dir, 'rotor.yaml'),
    `\naudit:\n  checkpoints:\n    to: ${options.to ?? `dir:${ckptDir}`}\n    key: ${options.key ?? `{ file: ${keyFile} }`}\n    every: ${options.every ?? '{ rows: 100, time: 1h }'}\n`,
  );
  const db = join(p.dir, '.rotor', 'rotor.db');
  return {
    p,
    db,
    ckptDir,
    keyFile,
    pubFile: `${keyFile}.pub`,
    outputs,
    cli,
    seed: (rows) => seedAuditLog(db, rows),
    attacker(fn) {
      const raw = new BetterSqlite3(db);
      try {
        raw.exec(
          'DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete',
        );
        fn(raw);
      } finally {
        raw.close();
      }
    },
  };
}

/** What an attacker with the file does to hide an edit: change row `seq`, recompute every hash after it. */
function rewriteFrom(raw: BetterSqlite3.Database, seq: number): void {
  const rows = raw
    .prepare('SELECT seq, entry FROM audit_events WHERE seq >= ? ORDER BY seq')
    .all(seq) as Array<{ seq: number; entry: string }>;
  const before = raw.prepare('SELECT hash FROM audit_events WHERE seq = ?').get(seq - 1) as
    { hash: string } | undefined;
  let prev = before?.hash ?? GENESIS_HASH;
  const update = raw.prepare('UPDATE audit_events SET entry = ?, hash = ? WHERE seq = ?');
  raw.transaction(() => {
    for (const row of rows) {
      const entry =
        row.seq === seq
          ? row.entry.replace(/"operator":"[^"]*"/, '"operator":"mallory"')
          : row.entry;
      prev = chainHash(prev, entry);
      update.run(entry, prev, row.seq);
    }
  })();
}

const verifyArgs = (s: Setup, ...extra: string[]) => [
  'audit',
  'verify',
  '--checkpoints',
  s.ckptDir,
  '--public-key',
  s.pubFile,
  ...extra,
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed CLI output, asserted field by field
type Json = Record<string, any>;
function json(r: Captured): Json {
  return JSON.parse(r.stdout) as Json;
}

describe('keygen', () => {
  test('writes a 0600 private key and its public key, prints neither key, never overwrites', async () => {
    const s = await setup();
    expect(statSync(s.keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(s.pubFile, 'utf8')).toContain('BEGIN PUBLIC KEY');
    const again = await s.cli(['audit', 'checkpoint', 'keygen', '--out', s.keyFile, '--json']);
    expect(again.code).not.toBe(0);
    expect(json(again).error.code).toBe('ERR_ROTOR_AUDIT_CHECKPOINT_KEY_EXISTS');
    expect(s.outputs.join('\n')).not.toContain('PRIVATE KEY');
  });
});

describe('publishing and verifying', () => {
  test('publishes the head to a directory once, and the log verifies against it', async () => {
    const s = await setup();
    s.seed(120);
    const first = await s.cli(['audit', 'checkpoint', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const published = json(first);
    expect(published).toMatchObject({
      outcome: 'published',
      checkpoint: { seq: expect.any(Number) },
    });
    const files = readdirSync(s.ckptDir);
    expect(files).toEqual([checkpointFileName(published.checkpoint)]);
    expect(JSON.parse(readFileSync(join(s.ckptDir, files[0]!), 'utf8'))).toEqual(
      published.checkpoint,
    );
    expect(json(await s.cli(['audit', 'checkpoint', '--json'])).outcome).toBe('up-to-date');

    const ok = await s.cli(verifyArgs(s));
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('audit log matches its signed checkpoints');
    const full = await s.cli(verifyArgs(s, '--full', '--json'));
    expect(json(full)).toMatchObject({ ok: true, mode: 'full', rows: published.checkpoint.seq });
  });

  test('rotor scheduler --once publishes a due checkpoint after its tick', async () => {
    const s = await setup();
    s.seed(120);
    const tick = await s.cli(['scheduler', '--once']);
    expect(tick.code, tick.stderr).toBe(0);
    const files = readdirSync(s.ckptDir);
    expect(files).toHaveLength(1);
    const ok = await s.cli(verifyArgs(s));
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  });

  test('incremental verify recomputes only the rows after the newest checkpoint, then after the state file', async () => {
    const s = await setup();
    s.seed(200);
    expect((await s.cli(['audit', 'checkpoint'])).code).toBe(0);
    const head = json(await s.cli(verifyArgs(s, '--json')));
    s.seed(50);
    const state = join(s.p.dir, 'verified.json');
    const r = json(await s.cli(verifyArgs(s, '--state', state, '--json')));
    expect(r).toMatchObject({
      ok: true,
      mode: 'incremental',
      rows: 50,
      from: { seq: head.headSeq, by: 'checkpoint' },
    });
    s.seed(10);
    const next = json(await s.cli(verifyArgs(s, '--state', state, '--json')));
    expect(next).toMatchObject({
      ok: true,
      rows: 10,
      from: { seq: head.headSeq + 50, by: 'state' },
    });
  });

  test('a rewritten, re-chained log passes the chain alone but not the checkpoints, naming the first disagreeing row', async () => {
    const s = await setup();
    s.seed(100);
    const c1 = json(await s.cli(['audit', 'checkpoint', '--json'])).checkpoint;
    s.seed(100);
    const c2 = json(await s.cli(['audit', 'checkpoint', '--json'])).checkpoint;
    s.attacker((raw) => rewriteFrom(raw, c1.seq + 20));

    expect((await s.cli(['audit', 'verify'])).code).toBe(0); // the chain alone is fooled
    for (const mode of [[], ['--full']]) {
      const r = await s.cli(verifyArgs(s, ...mode));
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`first bad row ${c2.seq} (rewritten)`);
      const j = json(await s.cli(verifyArgs(s, ...mode, '--json')));
      expect(j.error.code).toBe('ERR_ROTOR_AUDIT_CHECKPOINT_MISMATCH');
      expect(j.firstBad).toMatchObject({ kind: 'rewritten', seq: c2.seq });
    }
    const full = await s.cli(verifyArgs(s, '--full'));
    expect(full.stdout).toContain(`row ${c1.seq} still agrees with its checkpoint`);
  });

  test('a cut tail is caught: the log is shorter than the newest checkpoint', async () => {
    const s = await setup();
    s.seed(150);
    const c = json(await s.cli(['audit', 'checkpoint', '--json'])).checkpoint;
    s.attacker((raw) => raw.prepare('DELETE FROM audit_events WHERE seq > ?').run(c.seq - 30));
    expect((await s.cli(['audit', 'verify'])).code).toBe(0);
    const r = await s.cli(verifyArgs(s));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`first bad row ${c.seq - 29} (truncated)`);
    expect(r.stdout).toContain(`rows ${c.seq - 29}–${c.seq} were deleted`);
  });

  test('a checkpoint forged with another key is refused and named', async () => {
    const s = await setup();
    s.seed(100);
    expect((await s.cli(['audit', 'checkpoint'])).code).toBe(0);
    // The attacker rewrites the chain and signs a checkpoint for the new head with a key of their own.
    s.attacker((raw) => rewriteFrom(raw, 10));
    s.seed(5);
    const raw = new BetterSqlite3(s.db, { readonly: true });
    const head = raw
      .prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; hash: string };
    const store = (
      raw.prepare("SELECT value FROM meta WHERE key = 'audit_store_id'").get() as { value: string }
    ).value;
    raw.close();
    const forged = signCheckpoint(
      { store, seq: head.seq, head: head.hash, at: new Date().toISOString() },
      generateKeyPairSync('ed25519').privateKey,
    );
    writeFileSync(join(s.ckptDir, checkpointFileName(forged)), JSON.stringify(forged));
    const r = json(await s.cli(verifyArgs(s, '--json')));
    expect(r.ok).toBe(false);
    expect(r.problems.map((p: { kind: string }) => p.kind)).toContain('forged');
    expect(r.problems.find((p: { kind: string }) => p.kind === 'forged').message).toContain(
      `names key ${forged.keyId}`,
    );
    // And an unsigned one (signature stripped) likewise.
    writeFileSync(
      join(s.ckptDir, checkpointFileName(forged)),
      JSON.stringify({ ...forged, signature: '' }),
    );
    expect(json(await s.cli(verifyArgs(s, '--json'))).firstBad.kind).toBe('forged');
  });

  test('incremental verify leaves an old entry edited without re-hashing to --full', async () => {
    const s = await setup();
    s.seed(100);
    expect((await s.cli(['audit', 'checkpoint'])).code).toBe(0);
    s.attacker((raw) =>
      raw
        .prepare(
          `UPDATE audit_events SET entry = replace(entry, '"operator":"', '"operator":"x') WHERE seq = 7`,
        )
        .run(),
    );
    expect((await s.cli(verifyArgs(s))).code).toBe(0);
    const full = json(await s.cli(verifyArgs(s, '--full', '--json')));
    expect(full.firstBad).toMatchObject({ kind: 'chain', seq: 7 });
  });

  test('a public key file holding a private key, or no --public-key, is refused with a clear error', async () => {
    const s = await setup();
    s.seed(10);
    const r = await s.cli([
      'audit',
      'verify',
      '--checkpoints',
      s.ckptDir,
      '--public-key',
      s.keyFile,
      '--json',
    ]);
    expect(json(r).error.code).toBe('ERR_ROTOR_AUDIT_CHECKPOINT_KEY_INVALID');
    expect(r.stdout).not.toContain('BEGIN PRIVATE');
    const none = await s.cli(['audit', 'verify', '--checkpoints', s.ckptDir, '--json']);
    expect(json(none).error.code).toBe('ERR_ROTOR_CLI_USAGE');
  });
});

describe('failures', () => {
  test('a missing key file is named, and so is an unset key variable', async () => {
    const s = await setup({ key: '{ file: keys/nowhere.key }' });
    s.seed(5);
    const r = await s.cli(['audit', 'checkpoint', '--json']);
    expect(r.code).not.toBe(0);
    expect(json(r).error).toMatchObject({ code: 'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_MISSING' });
    expect(json(r).error.message).toContain(join(s.p.dir, 'keys', 'nowhere.key'));

    const e = await setup({ key: '{ env: AUDIT_CKPT_KEY }' });
    e.seed(5);
    const byEnv = await e.cli(['audit', 'checkpoint', '--json']);
    expect(json(byEnv).error.code).toBe('ERR_ROTOR_AUDIT_CHECKPOINT_KEY_MISSING');
    expect(json(byEnv).error.message).toContain('AUDIT_CKPT_KEY');
    const withEnv = await e.cli(['audit', 'checkpoint', '--json'], {
      AUDIT_CKPT_KEY: readFileSync(e.keyFile, 'utf8'),
    });
    expect(json(withEnv).outcome).toBe('published');
  });

  test('an unknown key or a bad target in audit.checkpoints is a policy error', async () => {
    const s = await setup({ to: 'ftp://example.com/x' });
    const r = await s.cli(['audit', 'checkpoint', '--json']);
    expect(json(r).error.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(json(r).error.message).toMatch(/dir:PATH|http/);
    const file = join(s.p.dir, 'rotor.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('to: ftp://example.com/x', 'to: dir:x\n    colour: red'),
    );
    const unknown = await s.cli(['audit', 'checkpoint', '--json']);
    expect(json(unknown).error.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(json(unknown).error.message).toContain('colour');
  });
});

describe('HTTP target', () => {
  async function checkpointServer(): Promise<{ url: string; received: unknown[]; server: Server }> {
    const received: unknown[] = [];
    const server = createServer((req, res) => {
      if (req.method === 'GET') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ checkpoints: received }));
        return;
      }
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.statusCode = 201;
        res.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkpoints`,
      received,
      server,
    };
  }

  test('publishes by POST to a real loopback server and verifies from its GET', async () => {
    const http = await checkpointServer();
    const s = await setup({ to: http.url });
    s.seed(40);
    const r = await s.cli(['audit', 'checkpoint', '--json']);
    expect(r.code, r.stdout).toBe(0);
    expect(http.received).toHaveLength(1);
    const v = await s.cli([
      'audit',
      'verify',
      '--checkpoints',
      http.url,
      '--public-key',
      s.pubFile,
    ]);
    expect(v.code, v.stdout).toBe(0);
  });

  test('a target that is down: WARNING in rotor check, the rotation still works', async () => {
    const http = await checkpointServer();
    const s = await setup({ to: http.url });
    await new Promise<void>((r) => http.server.close(() => r()));
    expect((await s.cli(['apply'])).code).toBe(0);
    s.seed(3);
    const rotor = s.p.rotor();
    cleanups.push(() => rotor.close());
    const due = await publishDueCheckpoint(rotor);
    expect(due).toMatchObject({
      outcome: 'failed',
      code: 'ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED',
    });
    const manual = await s.cli(['audit', 'checkpoint', '--json']);
    expect(json(manual).error.code).toBe('ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED');

    const rotate = await s.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging']);
    expect(rotate.code, rotate.stderr).toBe(0);
    const check = await s.cli(['check']);
    expect(check.stdout).toContain('WARNING');
    expect(check.stdout).toContain('publishing an audit checkpoint failed');
    expect(check.stdout).toContain('ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED');
  });
});

describe('due publication', () => {
  test('publishes after N rows or M minutes, not before', async () => {
    const s = await setup({ every: '{ rows: 50, time: 30m }' });
    s.seed(10);
    const rotor = s.p.rotor();
    cleanups.push(() => rotor.close());
    expect(await publishDueCheckpoint(rotor)).toMatchObject({ outcome: 'published' });
    s.seed(10);
    expect(await publishDueCheckpoint(rotor)).toMatchObject({ outcome: 'not-due' });
    s.seed(40);
    expect(await publishDueCheckpoint(rotor)).toMatchObject({ outcome: 'published' });
    s.seed(1);
    expect(await publishDueCheckpoint(rotor)).toMatchObject({ outcome: 'not-due' });
    s.p.clock.advance(30 * 60_000);
    expect(await publishDueCheckpoint(rotor)).toMatchObject({ outcome: 'published' });
    expect(await publishDueCheckpoint(rotor)).toMatchObject({ outcome: 'up-to-date' });
    expect(readdirSync(s.ckptDir)).toHaveLength(3);
  });
});

describe('no private key material anywhere', () => {
  test('not in outputs, audit rows, meta or checkpoint files', async () => {
    const s = await setup();
    s.seed(20);
    await s.cli(['audit', 'checkpoint']);
    await s.cli(['audit', 'checkpoint', '--json']);
    await s.cli(verifyArgs(s, '--json'));
    await s.cli(['audit', 'list', '--json', '--limit', '0']);
    const pem = readFileSync(s.keyFile, 'utf8');
    const body = pem
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    const raw = new BetterSqlite3(s.db, { readonly: true });
    const stored = JSON.stringify([
      raw.prepare('SELECT entry FROM audit_events').all(),
      raw.prepare('SELECT * FROM meta').all(),
    ]);
    raw.close();
    const files = readdirSync(s.ckptDir).map((f) => readFileSync(join(s.ckptDir, f), 'utf8'));
    for (const text of [...s.outputs, stored, ...files]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(body);
      expect(text).not.toContain(body.slice(-32));
    }
  });
});
