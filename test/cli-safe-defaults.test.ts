// Safe defaults of the first hour (issue 11 §3): init inside git, a lost master key, value
// limits, blank and multi-line values.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import type { CliIo } from '../src/cli/io.js';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'rotor-safe-'));
}

async function cli(dir: string, argv: string[], stdin = ''): Promise<Captured> {
  const stdout = new Sink();
  const stderr = new Sink();
  const input = new PassThrough() as PassThrough & { isTTY?: boolean };
  input.isTTY = false;
  input.end(stdin);
  const env = { ROTOR_OPERATOR: 'tester', PATH: process.env.PATH, HOME: dir, NO_COLOR: '1' };
  const io: CliIo = { stdout, stderr, stdin: input, env, cwd: dir };
  const code = await runCli(argv, { io });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir },
  });
  expect(out.status, out.stderr).toBe(0);
  return out.stdout;
}

describe('rotor init', () => {
  it('inside a git work tree writes .rotor/.gitignore, says so, and git add . commits neither store nor key', async () => {
    const dir = freshDir();
    git(dir, 'init', '-q');
    const result = await cli(dir, ['init']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('wrote .rotor/.gitignore');
    git(dir, 'add', '.');
    const staged = git(dir, 'diff', '--cached', '--name-only').trim().split('\n');
    expect(staged).toEqual(['rotor.yaml']);
  });

  it('in a subdirectory of a git work tree also writes .rotor/.gitignore', async () => {
    const dir = freshDir();
    git(dir, 'init', '-q');
    const sub = join(dir, 'app');
    spawnSync('mkdir', [sub]);
    expect((await cli(sub, ['init'])).code).toBe(0);
    expect(readFileSync(join(sub, '.rotor', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
  });

  it('outside a git work tree writes no .gitignore and does not mention one', async () => {
    const dir = freshDir();
    const result = await cli(dir, ['init']);
    expect(result.code).toBe(0);
    expect(existsSync(join(dir, '.rotor', '.gitignore'))).toBe(false);
    expect(result.stdout).not.toContain('.gitignore');
  });

  it('with a lost master key: says restore it from your backup, and init --force makes no new key', async () => {
    const dir = freshDir();
    expect((await cli(dir, ['init'])).code).toBe(0);
    expect((await cli(dir, ['apply'])).code).toBe(0);
    expect(
      (await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], 'smtp-value-123456')).code,
    ).toBe(0);
    const keyFile = join(dir, '.rotor', 'master.key');
    const key = readFileSync(keyFile);
    rmSync(keyFile);

    const lost = await cli(dir, ['export', '--env', 'staging', '--format', 'json']);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain('ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING');
    expect(lost.stderr).toContain('Restore it from your backup');
    expect(lost.stderr).not.toContain('rotor init');

    for (const argv of [['init', '--force'], ['init']]) {
      const again = await cli(dir, argv);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('ERR_ROTOR_STORE_EXISTS');
      expect(again.stderr).toContain('restore it from your backup');
      expect(existsSync(keyFile)).toBe(false);
    }

    // The backup brings everything back.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(keyFile, key, { mode: 0o600 });
    const back = await cli(dir, [
      'export',
      '--env',
      'staging',
      '--format',
      'json',
      '--secret',
      'SMTP_PASSWORD',
    ]);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toEqual({ SMTP_PASSWORD: 'smtp-value-123456' });
  });

  it('init --force refuses while a store exists, and leaves key and policy untouched', async () => {
    const dir = freshDir();
    expect((await cli(dir, ['init'])).code).toBe(0);
    const keyFile = join(dir, '.rotor', 'master.key');
    const key = readFileSync(keyFile, 'utf8');
    const policy = readFileSync(join(dir, 'rotor.yaml'), 'utf8');
    const again = await cli(dir, ['init', '--force']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ERR_ROTOR_STORE_EXISTS');
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(readFileSync(join(dir, 'rotor.yaml'), 'utf8')).toBe(policy);
  });

  it('init --force keeps an existing rotor.yaml when there is no store yet', async () => {
    const dir = freshDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'rotor.yaml'), 'version: 1\nenvironments: [staging]\nsecrets: {}\n');
    const result = await cli(dir, ['init', '--force']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('kept rotor.yaml');
    expect(existsSync(join(dir, '.rotor', 'master.key'))).toBe(true);
  });
});
