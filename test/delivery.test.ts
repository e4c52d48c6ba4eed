// Delivery and adoption: `rotor import`, `get`, `export` and `run`, in-process through runCli
// with captured streams, and `run` as a real process tree through the built CLI. Every test
// also guards the security rules: values only on the stdout of get/export/run, never in
// stderr, audit rows or the database file, and bad input writes nothing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli/program.js';
import type { CliIo } from '../src/cli/io.js';
import { readSecretInput } from '../src/cli/secret-input.js';
import { dotenvQuote, shellQuote } from '../src/cli/commands/export.js';
import { childEnvironment } from '../src/cli/commands/run.js';
import { createManualClock, type Clock } from '../src/core/clock.js';
import { createRotor, type Rotor } from '../src/core/context.js';
import { generateMasterKey } from '../src/core/crypto/envelope.js';
import { newId } from '../src/core/crypto/generate.js';
import type { AuditEntry } from '../src/core/audit/audit-log.js';
import type { Stage } from '../src/core/store/schema.js';
import { insertVersion, type VersionRow } from '../src/core/vault/versions.js';
import { readKidVariable } from '../src/core/delivery/kid-variable.js';
import { ROTATORS } from '../src/rotators/registry.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 1);

/** Every secret value a test uses; none may ever show up where values must not be. */
const VALUES = new Set<string>();
function secret(value: string): string {
  VALUES.add(value);
  return value;
}
/** Output that must never hold a value: all stderr, and stdout of non-reading commands. */
const MUST_NOT_LEAK: { what: string; text: string }[] = [];

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function baseEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: dir, LANG: 'C', ROTOR_OPERATOR: 'tester', ...extra };
}

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

interface CliOptions {
  stdin?: string | Readable;
  stdoutTTY?: boolean;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
}

function sink(chunks: string[], isTTY: boolean): Writable & { isTTY: boolean } {
  return Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    }),
    { isTTY },
  );
}

async function cli(dir: string, argv: string[], options: CliOptions = {}): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const stdin =
    typeof options.stdin === 'object'
      ? options.stdin
      : Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
  const io: CliIo = {
    stdout: sink(out, options.stdoutTTY ?? false),
    stderr: sink(err, false),
    stdin: stdin,
    env: options.env ?? baseEnv(dir),
    cwd: dir,
  };
  const code = await runCli(argv, { io, ...(options.clock ? { clock: options.clock } : {}) });
  const result = { code, stdout: out.join(''), stderr: err.join('') };
  MUST_NOT_LEAK.push({ what: `stderr of rotor ${argv.join(' ')}`, text: result.stderr });
  if (!['get', 'export', 'run'].includes(argv[0] ?? ''))
    MUST_NOT_LEAK.push({ what: `stdout of rotor ${argv.join(' ')}`, text: result.stdout });
  return result;
}

async function project(clock?: Clock): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-delivery-'));
  dirs.push(dir);
  expect((await cli(dir, ['init'], clock ? { clock } : {})).code).toBe(0);
  expect((await cli(dir, ['apply'], clock ? { clock } : {})).code).toBe(0);
  return dir;
}

async function withRotor<T>(dir: string, fn: (rotor: Rotor) => Promise<T>): Promise<T> {
  const rotor = createRotor({ cwd: dir, env: baseEnv(dir), rotators: ROTATORS });
  try {
    return await fn(rotor);
  } finally {
    await rotor.close();
  }
}

async function versions(dir: string, name?: string): Promise<VersionRow[]> {
  return withRotor(dir, async (rotor) => {
    const store = await rotor.store();
    let query = store.db.selectFrom('versions').selectAll().orderBy('created_at');
    if (name) query = query.where('secret', '=', name);
    return query.execute();
  });
}

async function audit(dir: string): Promise<AuditEntry[]> {
  return withRotor(dir, async (rotor) => {
    const store = await rotor.store();
    const rows = await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute();
    return rows.map((r) => JSON.parse(r.entry) as AuditEntry);
  });
}

/** Stores a version directly, as the rotation engine would leave it. */
async function putVersion(
  dir: string,
  v: {
    name: string;
    env: string;
    stage: Stage;
    value: string;
    at: number;
    retireAt?: number | null;
  },
): Promise<string> {
  const id = newId();
  await withRotor(dir, async (rotor) => {
    const store = await rotor.store();
    const master = await rotor.masterKey();
    await store.writeTransaction(async (trx) => {
      await insertVersion(trx, master, {
        id,
        secret: v.name,
        environment: v.env,
        stage: v.stage,
        origin: 'generated',
        value: v.value,
        meta: {},
        now: v.at,
        rotatedAt: v.at,
        promotedAt: v.at,
        rotationId: null,
      });
      if (v.retireAt !== undefined)
        await trx
          .updateTable('versions')
          .set({ retire_at: v.retireAt })
          .where('id', '=', id)
          .execute();
    });
  });
  return id;
}

type RotateDirectly = { name: string; env: string; value: string; at: number; retireAt: number };

/** What a promotion does: current → previous with retire_at, and a new current. */
async function rotateDirectly(
  dir: string,
  { name, env, value, at, retireAt }: RotateDirectly,
): Promise<{ previous: string; current: string }> {
  const [old] = (await versions(dir, name)).filter(
    (v) => v.environment === env && v.stage === 'current',
  );
  if (!old) throw new Error(`no current ${name}`);
  await withRotor(dir, async (rotor) => {
    const store = await rotor.store();
    await store.db
      .updateTable('versions')
      .set({ stage: 'previous', retire_at: retireAt })
      .where('id', '=', old.id)
      .execute();
  });
  const current = await putVersion(dir, { name, env, stage: 'current', value, at });
  return { previous: old.id, current };
}

function expectError(result: Captured, code: string): void {
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain(code);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
}

/** What a bad command must leave behind: exactly what was there before. */
async function snapshot(dir: string): Promise<{ versions: number; audit: number }> {
  return { versions: (await versions(dir)).length, audit: (await audit(dir)).length };
}

const JWT_KEY_32 = randomBytes(32).toString('base64');

describe('rotor import', () => {
  it('adopts a value from stdin as the current version with its real last-rotation date', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    const value = secret('smtp-imported-value-1');
    const result = await cli(
      dir,
      ['import', 'SMTP_PASSWORD', '--env', 'production', '--rotated-at', '2025-06-01'],
      { stdin: `${value}\n`, clock },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('imported SMTP_PASSWORD in production as current version');
    const [row] = await versions(dir, 'SMTP_PASSWORD');
    expect(row).toMatchObject({
      environment: 'production',
      stage: 'current',
      origin: 'import',
      rotated_at: Date.UTC(2025, 5, 1),
      promoted_at: START,
      created_at: START,
    });
    const entry = (await audit(dir)).at(-1)!;
    expect(entry).toMatchObject({
      action: 'import',
      secret: 'SMTP_PASSWORD',
      environment: 'production',
      outcome: 'success',
      operator: 'tester',
    });
    expect(entry.details).toMatchObject({
      versionId: row!.id,
      rotatedAt: '2025-06-01T00:00:00.000Z',
    });
    // One trailing newline was stripped, nothing else.
    expect(
      (await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'production'], { clock })).stdout,
    ).toBe(value);
  });

  it('without --rotated-at records the last rotation as unknown (rotated_at null)', async () => {
    const dir = await project();
    const result = await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging', '--json'], {
      stdin: secret('smtp-unknown-date-2'),
    });
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as {
      rotatedAt: unknown;
      origin: string;
      versionId: string;
    };
    expect(out).toMatchObject({ rotatedAt: null, origin: 'import' });
    const [row] = await versions(dir, 'SMTP_PASSWORD');
    expect(row).toMatchObject({
      id: out.versionId,
      rotated_at: null,
      stage: 'current',
      origin: 'import',
    });
  });

  it('reads --from-file and strips exactly one trailing newline', async () => {
    const dir = await project();
    const value = secret('file-value-with-trailing-space ');
    writeFileSync(join(dir, 'value.txt'), `${value}\n`);
    const result = await cli(dir, [
      'import',
      'DATABASE_URL',
      '--env',
      'staging',
      '--from-file',
      'value.txt',
      '--rotated-at',
      '2025-12-01T10:30:00Z',
    ]);
    expect(result.code).toBe(0);
    expect((await versions(dir, 'DATABASE_URL'))[0]?.rotated_at).toBe(
      Date.UTC(2025, 11, 1, 10, 30),
    );
    expect((await cli(dir, ['get', 'DATABASE_URL', '--env', 'staging'])).stdout).toBe(value);
  });

  it('refuses a future --rotated-at and an impossible date, writing nothing', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    const before = await snapshot(dir);
    const future = await cli(
      dir,
      ['import', 'SMTP_PASSWORD', '--env', 'staging', '--rotated-at', '2026-01-02'],
      { stdin: secret('never-stored-future-3'), clock },
    );
    expectError(future, 'ERR_ROTOR_DATE_INVALID');
    expect(future.stderr).toContain('in the future');
    const impossible = await cli(
      dir,
      ['import', 'SMTP_PASSWORD', '--env', 'staging', '--rotated-at', '2025-02-30'],
      { stdin: 'never-stored-future-3', clock },
    );
    expectError(impossible, 'ERR_ROTOR_DATE_INVALID');
    expectError(
      await cli(
        dir,
        ['import', 'SMTP_PASSWORD', '--env', 'staging', '--rotated-at', 'last tuesday'],
        { stdin: 'never-stored-future-3', clock },
      ),
      'ERR_ROTOR_DATE_INVALID',
    );
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses a secret that already has a current version and points to rotor rotate', async () => {
    const dir = await project();
    expect(
      (
        await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
          stdin: secret('first-import-value-4'),
        })
      ).code,
    ).toBe(0);
    const before = await snapshot(dir);
    const again = await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('second-import-value-4'),
    });
    expectError(again, 'ERR_ROTOR_IMPORT_EXISTS');
    expect(again.stderr).toContain('rotor rotate SMTP_PASSWORD --env staging');
    expect(await snapshot(dir)).toEqual(before);
    // Another environment is a separate history.
    expect(
      (
        await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'production'], {
          stdin: secret('prod-import-value-4'),
        })
      ).code,
    ).toBe(0);
  });

  it('refuses an unknown secret, an unknown environment and the master key, writing nothing', async () => {
    const dir = await project();
    const before = await snapshot(dir);
    expectError(
      await cli(dir, ['import', 'NOPE_SECRET', '--env', 'staging'], {
        stdin: secret('unknown-secret-value-5'),
      }),
      'ERR_ROTOR_SECRET_UNKNOWN',
    );
    expectError(
      await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'prod'], {
        stdin: 'unknown-secret-value-5',
      }),
      'ERR_ROTOR_ENV_UNKNOWN',
    );
    const master = await cli(dir, ['import', 'ROTOR_MASTER_KEY', '--env', 'staging'], {
      stdin: 'unknown-secret-value-5',
    });
    expectError(master, 'ERR_ROTOR_SECRET_NOT_STORED');
    expect(master.stderr).toContain('rotor master-key rotate');
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses a value on argv without echoing it', async () => {
    const dir = await project();
    const before = await snapshot(dir);
    const value = secret('argv-leak-canary-6');
    for (const argv of [
      ['import', 'SMTP_PASSWORD', '--env', 'staging', '--value', value],
      ['import', 'SMTP_PASSWORD', '--env', 'staging', `--value=${value}`],
    ]) {
      const result = await cli(dir, argv);
      expectError(result, 'ERR_ROTOR_VALUE_ON_ARGV');
      expect(result.stderr + result.stdout).not.toContain(value);
    }
    // A stray positional is a usage error that does not echo it either.
    const positional = await cli(dir, ['import', 'SMTP_PASSWORD', value, '--env', 'staging']);
    expect(positional.code).not.toBe(0);
    expect(positional.stderr + positional.stdout).not.toContain(value);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses a wrong master key before reading the value, writing nothing', async () => {
    const dir = await project();
    const before = await snapshot(dir);
    const wrongKey = generateMasterKey().export();
    const result = await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('wrong-key-value-7'),
      env: baseEnv(dir, { ROTOR_MASTER_KEY: wrongKey }),
    });
    expectError(result, 'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY');
    expect(result.stderr).not.toContain(wrongKey);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses an empty value with ERR_ROTOR_VALUE_MISSING', async () => {
    const dir = await project();
    expectError(
      await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], { stdin: '' }),
      'ERR_ROTOR_VALUE_MISSING',
    );
    expectError(
      await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], { stdin: '\n' }),
      'ERR_ROTOR_VALUE_MISSING',
    );
    writeFileSync(join(dir, 'empty.txt'), '');
    expectError(
      await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging', '--from-file', 'empty.txt']),
      'ERR_ROTOR_VALUE_MISSING',
    );
    expectError(
      await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging', '--from-file', 'missing.txt']),
      'ERR_ROTOR_VALUE_MISSING',
    );
    expect(await versions(dir)).toEqual([]);
  });

  it('validates the value the way its kind would', async () => {
    const dir = await project();
    const before = await snapshot(dir);
    const cases: [string, string, string][] = [
      ['SMTP_PASSWORD', secret('tiny7'), 'shorter than 8 characters'],
      ['S3_ACCESS_KEY_ID', secret('fifteen-chars!!'), 'shorter than 16 characters'],
      [
        'JWT_ACCESS_SECRET',
        secret(randomBytes(16).toString('base64')),
        'decodes to 16 bytes; HS256 needs at least 32',
      ],
      [
        'JWT_ACCESS_SECRET',
        secret('not base64 at all, but long enough to pass a length check!'),
        'not valid base64',
      ],
      [
        'METRICS_AUTH_TOKEN',
        secret(`${randomBytes(32).toString('base64url')}.${randomBytes(8).toString('hex')}`),
        'not valid base64url',
      ],
      ['METRICS_AUTH_TOKEN', secret(randomBytes(24).toString('base64url')), 'decodes to 24 bytes'],
    ];
    for (const [name, value, message] of cases) {
      const result = await cli(dir, ['import', name, '--env', 'staging'], { stdin: value });
      expectError(result, 'ERR_ROTOR_VALUE_INVALID');
      expect(result.stderr).toContain(message);
    }
    expect(await snapshot(dir)).toEqual(before);
    const ok = await cli(dir, ['import', 'JWT_ACCESS_SECRET', '--env', 'staging', '--json'], {
      stdin: secret(JWT_KEY_32),
    });
    expect(ok.code).toBe(0);
    const { versionId } = JSON.parse(ok.stdout) as { versionId: string };
    const [row] = await versions(dir, 'JWT_ACCESS_SECRET');
    expect(JSON.parse(row!.meta)).toEqual({
      kid: versionId,
      alg: 'HS256',
      encoding: 'base64',
      bytes: 32,
    });
    expect(
      (
        await cli(dir, ['import', 'METRICS_AUTH_TOKEN', '--env', 'staging'], {
          stdin: secret(randomBytes(32).toString('base64url')),
        })
      ).code,
    ).toBe(0);
  });

  it('prompts without echo on a terminal: backspace edits, escape sequences are ignored, Ctrl-C cancels', async () => {
    const dir = await project();
    const tty = (input: string) => {
      const stdin = Object.assign(new PassThrough(), {
        isTTY: true,
        isRaw: false,
        setRawMode: vi.fn(),
      });
      stdin.write(input);
      return stdin;
    };
    const typed = tty('smtp-typed-valueZ\x7f\x1b[Aok\r');
    const result = await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: typed,
    });
    secret('smtp-typed-valueok');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Current value of SMTP_PASSWORD in staging (input hidden): ');
    expect(typed.setRawMode.mock.calls).toEqual([[true], [false]]);
    expect((await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging'])).stdout).toBe(
      'smtp-typed-valueok',
    );

    const before = await snapshot(dir);
    const cancelled = await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'production'], {
      stdin: tty(`${secret('half-typed-secret')}\x03`),
    });
    expect(cancelled.code).toBe(1);
    expect(cancelled.stderr).toContain('ERR_ROTOR_VALUE_MISSING');
    expect(cancelled.stderr).toContain('Ctrl-C');
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('readSecretInput', () => {
  it('reads piped stdin and strips one CRLF or LF only', async () => {
    const io = (text: string): CliIo => ({
      stdin: Readable.from([Buffer.from(text)]),
      stdout: sink([], false),
      stderr: sink([], false),
      env: {},
      cwd: tmpdir(),
    });
    expect(await readSecretInput(io('abc\r\n'), { prompt: '' })).toBe('abc');
    expect(await readSecretInput(io('abc\n\n'), { prompt: '' })).toBe('abc\n');
    expect(await readSecretInput(io('  abc  '), { prompt: '' })).toBe('  abc  ');
    await expect(readSecretInput(io(''), { prompt: '' })).rejects.toMatchObject({
      code: 'ERR_ROTOR_VALUE_MISSING',
    });
  });
});

describe('rotor get', () => {
  it('prints exactly the value to a pipe and audits the read by version id, never the value', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    const value = secret('get-me-value-8 with "quotes"');
    await cli(dir, ['import', 'DATABASE_URL', '--env', 'production'], { stdin: value, clock });
    const [row] = await versions(dir, 'DATABASE_URL');
    const result = await cli(dir, ['get', 'DATABASE_URL', '--env', 'production'], { clock });
    expect(result).toMatchObject({ code: 0, stdout: value, stderr: '' });
    const entry = (await audit(dir)).at(-1)!;
    expect(entry).toMatchObject({
      action: 'read.get',
      secret: 'DATABASE_URL',
      environment: 'production',
      outcome: 'success',
    });
    expect(entry.details).toMatchObject({ versionId: row!.id, stage: 'current' });
    expect(JSON.stringify(entry)).not.toContain(value);
  });

  it('refuses to print to a terminal without --reveal, and reads nothing', async () => {
    const dir = await project();
    const value = secret('tty-refused-value-9');
    await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], { stdin: value });
    const before = await snapshot(dir);
    const refused = await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdoutTTY: true,
    });
    expectError(refused, 'ERR_ROTOR_CLI_REFUSE_TTY');
    expect(refused.stdout).toBe('');
    expect(await snapshot(dir)).toEqual(before);
    const revealed = await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging', '--reveal'], {
      stdoutTTY: true,
    });
    expect(revealed).toMatchObject({ code: 0, stdout: `${value}\n` });
  });

  it('gives the previous value only while its grace window is open', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('old-smtp-value-10'),
      clock,
    });
    const ids = await rotateDirectly(dir, {
      name: 'SMTP_PASSWORD',
      env: 'staging',
      value: secret('new-smtp-value-10'),
      at: START,
      retireAt: START + HOUR,
    });
    const json = await cli(
      dir,
      ['get', 'SMTP_PASSWORD', '--env', 'staging', '--stage', 'previous', '--json'],
      { clock },
    );
    expect(JSON.parse(json.stdout)).toMatchObject({
      value: 'old-smtp-value-10',
      stage: 'previous',
      versionId: ids.previous,
      retireAt: new Date(START + HOUR).toISOString(),
    });
    expect((await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging'], { clock })).stdout).toBe(
      'new-smtp-value-10',
    );
    clock.advance(HOUR);
    expectError(
      await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging', '--stage', 'previous'], {
        clock,
      }),
      'ERR_ROTOR_VERSION_NOT_FOUND',
    );
  });

  it('refuses unknown names and environments, the master key, a secret with no value and a wrong master key', async () => {
    const dir = await project();
    await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('get-errors-value-11'),
    });
    const before = await snapshot(dir);
    expectError(await cli(dir, ['get', 'NOPE', '--env', 'staging']), 'ERR_ROTOR_SECRET_UNKNOWN');
    expectError(await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'qa']), 'ERR_ROTOR_ENV_UNKNOWN');
    expectError(
      await cli(dir, ['get', 'ROTOR_MASTER_KEY', '--env', 'staging']),
      'ERR_ROTOR_SECRET_NOT_STORED',
    );
    expectError(
      await cli(dir, ['get', 'TWILIO_AUTH_TOKEN', '--env', 'staging']),
      'ERR_ROTOR_VERSION_NOT_FOUND',
    );
    const wrong = await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging'], {
      env: baseEnv(dir, { ROTOR_MASTER_KEY: generateMasterKey().export() }),
    });
    expectError(wrong, 'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY');
    expect(wrong.stdout).toBe('');
    expect(await snapshot(dir)).toEqual(before);
  });
});

/** A copy of the `dotenv` package's parser (v16), the most common consumer of .env files. */
function parseDotenv(src: string): Record<string, string> {
  const LINE =
    /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;
  const obj: Record<string, string> = {};
  const lines = src.replace(/\r\n?/gm, '\n');
  let match: RegExpExecArray | null;
  while ((match = LINE.exec(lines)) !== null) {
    let value = (match[2] ?? '').trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
    if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    obj[match[1]!] = value;
  }
  return obj;
}

/** Reads variables back the way a shell would: `. file`, then print each NUL-terminated. */
function sourceInBash(file: string, names: string[]): Record<string, string> {
  const script = `set -eu; . "$1"; shift; for n in "$@"; do printf '%s\\0' "\${!n}"; done`;
  const out = spawnSync('bash', ['-c', script, 'bash', file, ...names], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  expect(out.status, out.stderr).toBe(0);
  const parts = out.stdout.split('\0');
  return Object.fromEntries(names.map((n, i) => [n, parts[i] ?? '']));
}

/** Reads a dotenv file the way `node --env-file` does. */
function nodeEnvFile(file: string, names: string[]): Record<string, string | null> {
  const out = spawnSync(
    process.execPath,
    [
      `--env-file=${file}`,
      '-e',
      `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`,
    ],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    },
  );
  expect(out.status, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as Record<string, string | null>;
}

describe('rotor export', () => {
  const TRICKY: Record<string, string> = {
    DATABASE_URL: secret(`postgres://u:p'a"ss$HOME@db/x?q=$(id)&r=\\n # not a comment`),
    SMTP_PASSWORD: secret(`it's $(echo pwned) and \${HOME} and \\ backslash \\n literal`),
    S3_ACCESS_KEY_ID: secret('-----BEGIN KEY-----\nline "two" with \\ and $x\n-----END KEY-----'),
    S3_SECRET_ACCESS_KEY: secret(
      `  leading and trailing spaces, 'single' and \`tick\`\nand a second line  `,
    ),
    TWILIO_AUTH_TOKEN: secret('plain-token-0123456789=='),
  };

  async function trickyProject(
    clock: Clock,
  ): Promise<{ dir: string; current: string; previous: string }> {
    const dir = await project(clock);
    for (const [name, value] of Object.entries(TRICKY))
      await putVersion(dir, { name, env: 'production', stage: 'current', value, at: START });
    const current = secret(randomBytes(32).toString('base64url'));
    const imported = await cli(dir, ['import', 'METRICS_AUTH_TOKEN', '--env', 'production'], {
      stdin: current,
      clock,
    });
    expect(imported.code, imported.stderr).toBe(0);
    const previous = secret(randomBytes(32).toString('base64url'));
    await putVersion(dir, {
      name: 'METRICS_AUTH_TOKEN',
      env: 'production',
      stage: 'previous',
      value: previous,
      at: START - HOUR,
      retireAt: START + HOUR,
    });
    return { dir, current, previous };
  }

  it('shell output round-trips every value through bash', async () => {
    const clock = createManualClock(START);
    const { dir, current, previous } = await trickyProject(clock);
    const result = await cli(
      dir,
      ['export', '--env', 'production', '--format', 'shell', '--output', 'env.sh'],
      { clock },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    const file = join(dir, 'env.sh');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = sourceInBash(file, [
      ...Object.keys(TRICKY),
      'METRICS_AUTH_TOKEN',
      'METRICS_AUTH_TOKEN_PREVIOUS',
    ]);
    expect(back).toEqual({
      ...TRICKY,
      METRICS_AUTH_TOKEN: current,
      METRICS_AUTH_TOKEN_PREVIOUS: previous,
    });
    for (const value of Object.values(TRICKY)) expect(shellQuote(value).startsWith("'")).toBe(true);
  });

  it('dotenv output round-trips through the dotenv parser and node --env-file', async () => {
    const clock = createManualClock(START);
    const { dir, current, previous } = await trickyProject(clock);
    const result = await cli(dir, ['export', '--env', 'production'], { clock });
    expect(result.code).toBe(0);
    expect(parseDotenv(result.stdout)).toEqual({
      ...TRICKY,
      METRICS_AUTH_TOKEN: current,
      METRICS_AUTH_TOKEN_PREVIOUS: previous,
    });
    const file = join(dir, '.env');
    writeFileSync(file, result.stdout);
    expect(nodeEnvFile(file, Object.keys(TRICKY))).toEqual(TRICKY);
  });

  it('dotenv refuses a value it cannot quote instead of writing it wrong, and records no read', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    await putVersion(dir, {
      name: 'SMTP_PASSWORD',
      env: 'staging',
      stage: 'current',
      value: secret(`all ' three " quotes \` here`),
      at: START,
    });
    await putVersion(dir, {
      name: 'DATABASE_URL',
      env: 'staging',
      stage: 'current',
      value: secret('carriage\rreturn'),
      at: START,
    });
    const before = await snapshot(dir);
    const refused = await cli(dir, ['export', '--env', 'staging', '--output', 'out.env'], {
      clock,
    });
    expectError(refused, 'ERR_ROTOR_VALUE_INVALID');
    expect(refused.stderr).toContain('--format shell');
    expect(existsSync(join(dir, 'out.env'))).toBe(false);
    expect(await snapshot(dir)).toEqual(before);
    expect(() => dotenvQuote('X', 'carriage\rreturn')).toThrow(/carriage return/);
    // The same values are fine as shell and JSON.
    const shell = await cli(
      dir,
      ['export', '--env', 'staging', '--format', 'shell', '--output', 'out.sh'],
      { clock },
    );
    expect(shell.code).toBe(0);
    expect(sourceInBash(join(dir, 'out.sh'), ['SMTP_PASSWORD', 'DATABASE_URL'])).toEqual({
      SMTP_PASSWORD: `all ' three " quotes \` here`,
      DATABASE_URL: 'carriage\rreturn',
    });
  });

  it('includes NAME_PREVIOUS during the grace window and not after it', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('grace-old-value-12'),
      clock,
    });
    const ids = await rotateDirectly(dir, {
      name: 'SMTP_PASSWORD',
      env: 'staging',
      value: secret('grace-new-value-12'),
      at: START,
      retireAt: START + HOUR,
    });
    const during = await cli(dir, ['export', '--env', 'staging', '--json'], { clock });
    expect(JSON.parse(during.stdout)).toEqual({
      SMTP_PASSWORD: 'grace-new-value-12',
      SMTP_PASSWORD_PREVIOUS: 'grace-old-value-12',
    });
    expect(during.stderr).toContain('warning: no current value in staging for JWT_ACCESS_SECRET');
    const entry = (await audit(dir)).at(-1)!;
    expect(entry).toMatchObject({
      action: 'read.export',
      environment: 'staging',
      secret: 'SMTP_PASSWORD',
    });
    expect(entry.notes).toBe(
      `SMTP_PASSWORD current ${ids.current}; SMTP_PASSWORD previous ${ids.previous}`,
    );
    expect(entry.details).toMatchObject({ count: 2, previous: 1, format: 'json' });
    clock.set(START + HOUR);
    const after = await cli(dir, ['export', '--env', 'staging', '--format', 'json'], { clock });
    expect(JSON.parse(after.stdout)).toEqual({ SMTP_PASSWORD: 'grace-new-value-12' });
  });

  it('refuses a terminal without --reveal, unknown environments and a wrong master key, writing nothing', async () => {
    const dir = await project();
    await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('export-errors-value-13'),
    });
    const before = await snapshot(dir);
    expectError(
      await cli(dir, ['export', '--env', 'staging'], { stdoutTTY: true }),
      'ERR_ROTOR_CLI_REFUSE_TTY',
    );
    expectError(await cli(dir, ['export', '--env', 'qa']), 'ERR_ROTOR_ENV_UNKNOWN');
    expectError(
      await cli(dir, ['export', '--env', 'staging', '--secret', 'NOPE']),
      'ERR_ROTOR_SECRET_UNKNOWN',
    );
    expectError(
      await cli(dir, ['export', '--env', 'staging', '--secret', 'TWILIO_AUTH_TOKEN']),
      'ERR_ROTOR_VERSION_NOT_FOUND',
    );
    expectError(
      await cli(dir, ['export', '--env', 'staging'], {
        env: baseEnv(dir, { ROTOR_MASTER_KEY: generateMasterKey().export() }),
      }),
      'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
    );
    expect(await snapshot(dir)).toEqual(before);
    const only = await cli(
      dir,
      ['export', '--env', 'staging', '--secret', 'SMTP_PASSWORD', '--format', 'shell'],
      { stdoutTTY: true, env: baseEnv(dir) },
    );
    expect(only.code).toBe(1);
    const revealed = await cli(
      dir,
      ['export', '--env', 'staging', '--secret', 'SMTP_PASSWORD', '--format', 'shell', '--reveal'],
      { stdoutTTY: true },
    );
    expect(revealed.stdout).toContain(`export SMTP_PASSWORD='export-errors-value-13'`);
    expect(revealed.stderr).toBe('');
  });
});

describe('JWT keys: the kid travels beside each value', () => {
  it('export adds NAME_KID, and during grace NAME_PREVIOUS_KID and NAME_PREVIOUS_UNTIL, each describing its own value', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    const key = secret(randomBytes(32).toString('base64'));
    expect(
      (await cli(dir, ['import', 'JWT_ACCESS_SECRET', '--env', 'staging'], { stdin: key, clock }))
        .code,
    ).toBe(0);
    expect(
      (await cli(dir, ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging'], { clock })).code,
    ).toBe(0);
    const rows = await versions(dir, 'JWT_ACCESS_SECRET');
    const previous = rows.find((v) => v.stage === 'previous')!.id;
    const current = rows.find((v) => v.stage === 'current')!.id;
    const during = await cli(
      dir,
      ['export', '--env', 'staging', '--secret', 'JWT_ACCESS_SECRET', '--format', 'json'],
      { clock },
    );
    expect(during.code, during.stderr).toBe(0);
    const vars = JSON.parse(during.stdout) as Record<string, string>;
    secret(vars.JWT_ACCESS_SECRET!);
    expect(Object.keys(vars)).toEqual([
      'JWT_ACCESS_SECRET',
      'JWT_ACCESS_SECRET_KID',
      'JWT_ACCESS_SECRET_PREVIOUS',
      'JWT_ACCESS_SECRET_PREVIOUS_KID',
      'JWT_ACCESS_SECRET_PREVIOUS_UNTIL',
    ]);
    expect(vars.JWT_ACCESS_SECRET_PREVIOUS).toBe(key);
    expect(
      readKidVariable('JWT_ACCESS_SECRET', vars.JWT_ACCESS_SECRET_KID!, vars.JWT_ACCESS_SECRET!),
    ).toEqual({ kid: current, alg: 'HS256', encoding: 'base64' });
    expect(readKidVariable('JWT_ACCESS_SECRET', vars.JWT_ACCESS_SECRET_PREVIOUS_KID!, key)).toEqual(
      { kid: previous, alg: 'HS256', encoding: 'base64' },
    );
    // Each descriptor belongs to its own value only.
    expect(readKidVariable('JWT_ACCESS_SECRET', vars.JWT_ACCESS_SECRET_KID!, key)).toBe('mismatch');
    expect(
      readKidVariable('JWT_REFRESH_SECRET', vars.JWT_ACCESS_SECRET_KID!, vars.JWT_ACCESS_SECRET!),
    ).toBe('mismatch');
    expect(vars.JWT_ACCESS_SECRET_PREVIOUS_UNTIL).toBe(new Date(START + HOUR).toISOString());
    for (const name of [
      'JWT_ACCESS_SECRET_KID',
      'JWT_ACCESS_SECRET_PREVIOUS_KID',
      'JWT_ACCESS_SECRET_PREVIOUS_UNTIL',
    ]) {
      for (const value of [key, vars.JWT_ACCESS_SECRET!])
        expect(vars[name]!.includes(value)).toBe(false);
    }
    // The audit row counts and names values only.
    const entry = (await audit(dir)).at(-1)!;
    expect(entry.details).toMatchObject({ count: 2, secrets: 1, previous: 1 });
    expect(entry.notes).toBe(
      `JWT_ACCESS_SECRET current ${current}; JWT_ACCESS_SECRET previous ${previous}`,
    );
    // Shell and dotenv carry them too.
    const shell = await cli(
      dir,
      [
        'export',
        '--env',
        'staging',
        '--secret',
        'JWT_ACCESS_SECRET',
        '--format',
        'shell',
        '--output',
        'jwt.sh',
      ],
      { clock },
    );
    expect(shell.code).toBe(0);
    expect(sourceInBash(join(dir, 'jwt.sh'), Object.keys(vars))).toEqual(vars);
    expect(
      parseDotenv(
        (await cli(dir, ['export', '--env', 'staging', '--secret', 'JWT_ACCESS_SECRET'], { clock }))
          .stdout,
      ),
    ).toEqual(vars);
    clock.set(START + HOUR);
    const after = JSON.parse(
      (
        await cli(
          dir,
          ['export', '--env', 'staging', '--secret', 'JWT_ACCESS_SECRET', '--format', 'json'],
          { clock },
        )
      ).stdout,
    ) as Record<string, string>;
    expect(Object.keys(after)).toEqual(['JWT_ACCESS_SECRET', 'JWT_ACCESS_SECRET_KID']);
  });

  it('secrets without a kid get no companions', async () => {
    const clock = createManualClock(START);
    const dir = await project(clock);
    await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('no-kid-value-17'),
      clock,
    });
    await cli(dir, ['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'], { clock });
    const vars = JSON.parse(
      (await cli(dir, ['export', '--env', 'staging', '--format', 'json'], { clock })).stdout,
    ) as Record<string, string>;
    for (const v of Object.values(vars)) secret(v);
    expect(Object.keys(vars).sort()).toEqual(['METRICS_AUTH_TOKEN', 'SMTP_PASSWORD']);
  });
});

describe('rotor run: the child environment', () => {
  it('drops stale kid companions of every secret (NAME_KID, NAME_PREVIOUS_KID, NAME_PREVIOUS_UNTIL, NAME_ON_ROTATE)', () => {
    const env = childEnvironment(
      {
        PATH: '/bin',
        JWT_ACCESS_SECRET_KID: 'stale',
        JWT_ACCESS_SECRET_PREVIOUS_KID: 'stale',
        JWT_ACCESS_SECRET_PREVIOUS_UNTIL: 'stale',
        JWT_ACCESS_SECRET_ON_ROTATE: 'invalidate',
        OTHER_KID: 'kept',
      },
      ['JWT_ACCESS_SECRET'],
      [
        {
          secret: 'JWT_ACCESS_SECRET',
          environment: 'staging',
          stage: 'current',
          variable: 'JWT_ACCESS_SECRET',
          versionId: 'v',
          value: 'fresh',
          retireAt: null,
        },
        {
          secret: 'JWT_ACCESS_SECRET',
          environment: 'staging',
          stage: 'current',
          variable: 'JWT_ACCESS_SECRET_KID',
          versionId: 'v',
          value: 'fresh-kid',
          retireAt: null,
          carries: 'kid',
        },
      ],
    );
    expect(env).toEqual({
      PATH: '/bin',
      OTHER_KID: 'kept',
      JWT_ACCESS_SECRET: 'fresh',
      JWT_ACCESS_SECRET_KID: 'fresh-kid',
    });
  });

  it('drops ROTOR_* and stale NAME_PREVIOUS, then adds the values', () => {
    const env = childEnvironment(
      {
        PATH: '/bin',
        ROTOR_MASTER_KEY: 'k',
        ROTOR_OPERATOR: 'me',
        SMTP_PASSWORD: 'stale',
        SMTP_PASSWORD_PREVIOUS: 'stale-prev',
        OTHER: 'kept',
      },
      ['SMTP_PASSWORD'],
      [
        {
          secret: 'SMTP_PASSWORD',
          environment: 'staging',
          stage: 'current',
          variable: 'SMTP_PASSWORD',
          versionId: 'v',
          value: 'fresh',
          retireAt: null,
        },
      ],
    );
    expect(env).toEqual({ PATH: '/bin', SMTP_PASSWORD: 'fresh', OTHER: 'kept' });
  });

  it('refuses a missing command with 127 before reading anything, and bad input with 1', async () => {
    const dir = await project();
    await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('run-errors-value-14'),
    });
    const before = await snapshot(dir);
    const missing = await cli(dir, [
      'run',
      '--env',
      'staging',
      '--',
      'rotor-no-such-command-xyz',
      'arg',
    ]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('ERR_ROTOR_RUN_SPAWN_FAILED');
    expectError(
      await cli(dir, ['run', '--env', 'qa', '--', process.execPath, '-e', '0']),
      'ERR_ROTOR_ENV_UNKNOWN',
    );
    expectError(
      await cli(dir, ['run', '--env', 'staging', '--', process.execPath, '-e', '0'], {
        env: baseEnv(dir, { ROTOR_MASTER_KEY: generateMasterKey().export() }),
      }),
      'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
    );
    expect(await snapshot(dir)).toEqual(before);
  });
});

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startRotor(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): ChildProcess & { output: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output.stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output.stderr += s));
  return Object.assign(child, { output });
}

function exited(child: ReturnType<typeof startRotor>, what: string): Promise<Exited> {
  return new Promise((settle) => {
    child.on('close', (code, signal) => {
      MUST_NOT_LEAK.push({ what: `stderr of ${what}`, text: child.output.stderr });
      settle({ code, signal, ...child.output });
    });
  });
}

async function waitForOutput(child: ReturnType<typeof startRotor>, text: string): Promise<void> {
  for (let i = 0; i < 200 && !child.output.stdout.includes(text); i++)
    await new Promise((r) => setTimeout(r, 25));
  expect(child.output.stdout).toContain(text);
}

async function rotorRun(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<Exited> {
  return exited(startRotor(dir, args, env), `rotor ${args.join(' ')}`);
}

const PRINT_ENV = `process.stdout.write(JSON.stringify(Object.fromEntries(['SMTP_PASSWORD','SMTP_PASSWORD_PREVIOUS','JWT_ACCESS_SECRET','ROTOR_MASTER_KEY','ROTOR_OPERATOR','ROTOR_LOG_LEVEL','KEEP_ME'].map((n) => [n, process.env[n] ?? null]))))`;

describe('rotor run: a real process tree', () => {
  let dir: string;
  let masterKey: string;
  const oldValue = secret('run-old-smtp-value-15');
  const newValue = secret('run-new-smtp-value-15');
  let ids: { previous: string; current: string };

  beforeAll(async () => {
    if (!existsSync(MAIN))
      throw new Error(`${MAIN} is missing: run \`npm run build\` before these tests`);
    dir = await project();
    masterKey = readFileSync(join(dir, '.rotor', 'master.key'), 'utf8').trim();
    expect(
      (await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], { stdin: oldValue })).code,
    ).toBe(0);
    expect(
      (await cli(dir, ['import', 'JWT_ACCESS_SECRET', '--env', 'staging'], { stdin: JWT_KEY_32 }))
        .code,
    ).toBe(0);
    ids = await rotateDirectly(dir, {
      name: 'SMTP_PASSWORD',
      env: 'staging',
      value: newValue,
      at: Date.now(),
      retireAt: Date.now() + HOUR,
    });
  });

  /** The environment rotor itself runs with: the master key from the environment, debug logs on. */
  const rotorEnv = () =>
    baseEnv(dir, {
      ROTOR_MASTER_KEY: masterKey,
      ROTOR_LOG_LEVEL: 'trace',
      KEEP_ME: 'kept',
      SMTP_PASSWORD_PREVIOUS: 'stale-from-parent',
    });

  it('injects current values and NAME_PREVIOUS during grace, and never ROTOR_MASTER_KEY', async () => {
    const result = await rotorRun(
      dir,
      ['run', '--env', 'staging', '--', process.execPath, '-e', PRINT_ENV],
      rotorEnv(),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      SMTP_PASSWORD: newValue,
      SMTP_PASSWORD_PREVIOUS: oldValue,
      JWT_ACCESS_SECRET: JWT_KEY_32,
      ROTOR_MASTER_KEY: null,
      ROTOR_OPERATOR: null,
      ROTOR_LOG_LEVEL: null,
      KEEP_ME: 'kept',
    });
    const entry = (await audit(dir)).at(-1)!;
    expect(entry).toMatchObject({
      action: 'read.run',
      environment: 'staging',
      outcome: 'success',
      details: expect.objectContaining({ command: 'node', count: 3, previous: 1 }),
    });
    expect(entry.notes).toContain(`SMTP_PASSWORD previous ${ids.previous}`);
    expect(entry.notes).toContain(`SMTP_PASSWORD current ${ids.current}`);
  });

  it('drops NAME_PREVIOUS once the grace window has passed, even one inherited from the parent', async () => {
    const other = await project();
    await cli(other, ['import', 'SMTP_PASSWORD', '--env', 'staging'], {
      stdin: secret('expired-old-value-16'),
    });
    await rotateDirectly(other, {
      name: 'SMTP_PASSWORD',
      env: 'staging',
      value: secret('expired-new-value-16'),
      at: Date.now(),
      retireAt: Date.now() - 1,
    });
    const result = await rotorRun(
      other,
      ['run', '--env', 'staging', '--', process.execPath, '-e', PRINT_ENV],
      baseEnv(other, { SMTP_PASSWORD_PREVIOUS: 'stale-from-parent' }),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      SMTP_PASSWORD: 'expired-new-value-16',
      SMTP_PASSWORD_PREVIOUS: null,
    });
  });

  it("exits with the child's exit code", async () => {
    expect(
      (
        await rotorRun(
          dir,
          ['run', '--env', 'staging', '--', process.execPath, '-e', 'process.exit(3)'],
          rotorEnv(),
        )
      ).code,
    ).toBe(3);
    expect(
      (
        await rotorRun(
          dir,
          ['run', '--env', 'staging', '--', process.execPath, '-e', '0'],
          rotorEnv(),
        )
      ).code,
    ).toBe(0);
  });

  it('forwards SIGTERM to the child and returns what the child decided (42)', async () => {
    const child = startRotor(
      dir,
      [
        'run',
        '--env',
        'staging',
        '--',
        process.execPath,
        '-e',
        "process.on('SIGTERM', () => process.exit(42)); console.log('ready'); setInterval(() => {}, 1000)",
      ],
      rotorEnv(),
    );
    const done = exited(child, 'rotor run (SIGTERM trap)');
    await waitForOutput(child, 'ready');
    child.kill('SIGTERM');
    expect(await done).toMatchObject({ code: 42, signal: null });
  });

  it.each(['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const)(
    'forwards %s to the child',
    async (signal) => {
      const script = `process.on('${signal}', () => process.exit(40)); console.log('ready'); setInterval(() => {}, 1000)`;
      const child = startRotor(
        dir,
        ['run', '--env', 'staging', '--', process.execPath, '-e', script],
        rotorEnv(),
      );
      const done = exited(child, `rotor run (${signal} trap)`);
      await waitForOutput(child, 'ready');
      child.kill(signal);
      expect(await done).toMatchObject({ code: 40, signal: null });
    },
  );

  it('exits 128+n when the child dies from signal n', async () => {
    const child = startRotor(
      dir,
      [
        'run',
        '--env',
        'staging',
        '--',
        process.execPath,
        '-e',
        "console.log('ready'); setInterval(() => {}, 1000)",
      ],
      rotorEnv(),
    );
    const done = exited(child, 'rotor run (SIGTERM death)');
    await waitForOutput(child, 'ready');
    child.kill('SIGTERM');
    expect((await done).code).toBe(128 + 15);
    const killed = await rotorRun(
      dir,
      [
        'run',
        '--env',
        'staging',
        '--',
        process.execPath,
        '-e',
        "process.kill(process.pid, 'SIGKILL')",
      ],
      rotorEnv(),
    );
    expect(killed.code).toBe(128 + 9);
  });

  it('exits 127 with ERR_ROTOR_RUN_SPAWN_FAILED when the command does not exist', async () => {
    const result = await rotorRun(
      dir,
      ['run', '--env', 'staging', '--', 'rotor-no-such-command-xyz'],
      rotorEnv(),
    );
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('ERR_ROTOR_RUN_SPAWN_FAILED');
    expect(result.stderr).toContain('rotor-no-such-command-xyz');
  });
});

describe('values stay out of everything but get, export and run', () => {
  it('no value appears in stderr, in the stdout of other commands, or in any audit row', async () => {
    expect(MUST_NOT_LEAK.length).toBeGreaterThan(40);
    for (const { what, text } of MUST_NOT_LEAK) {
      for (const value of VALUES)
        expect(text.includes(value), `${what} contains a secret value`).toBe(false);
    }
    for (const dir of dirs) {
      const entries = JSON.stringify(await audit(dir));
      for (const value of VALUES)
        expect(entries.includes(value), `an audit row in ${dir} contains a secret value`).toBe(
          false,
        );
    }
  });

  it('no value appears in the bytes of the SQLite database, its WAL or shared memory', async () => {
    let checked = 0;
    for (const dir of dirs) {
      const state = join(dir, '.rotor');
      for (const file of readdirSync(state).filter((f) => f.startsWith('rotor.db'))) {
        const bytes = readFileSync(join(state, file));
        checked++;
        for (const value of VALUES) {
          expect(
            bytes.includes(Buffer.from(value, 'utf8')),
            `${file} in ${dir} holds a value in plaintext`,
          ).toBe(false);
        }
      }
    }
    expect(checked).toBeGreaterThan(dirs.length - 1);
  });
});
