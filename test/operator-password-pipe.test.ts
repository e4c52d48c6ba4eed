// `printf 'pw\npw\n' | rotor operator add alice` through the built CLI as a real process with
// stdin piped: one line per prompt, the two lines must match, control characters are refused,
// and what is stored is exactly the password (checked against the argon2id hash in the store).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRotor, type Rotor } from '../src/core/context.js';
import { verifyPassword } from '../src/core/operators/password-hash.js';
import { ROTATORS } from '../src/rotators/registry.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/cli/main.js');
const PASSWORD = 'correct horse battery staple';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
function rotorCli(args: string[], stdin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', ROTOR_OPERATOR: 'tester' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

let rotor: Rotor;
async function storedHash(name: string): Promise<string | undefined> {
  const store = await rotor.store();
  return (
    await store.db
      .selectFrom('operators')
      .select('password_hash')
      .where('name', '=', name)
      .executeTakeFirst()
  )?.password_hash;
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  dir = mkdtempSync(join(tmpdir(), 'rotor-oppw-'));
  const init = await rotorCli(['init'], '');
  expect(init.code, init.stderr).toBe(0);
  rotor = createRotor({ cwd: dir, env: { HOME: dir }, rotators: ROTATORS });
}, 60_000);
afterAll(async () => {
  await rotor?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rotor operator add with the password piped on stdin', () => {
  test("printf 'pw\\npw\\n' stores exactly pw: one line per prompt", async () => {
    const run = await rotorCli(['operator', 'add', 'alice'], `${PASSWORD}\n${PASSWORD}\n`);
    expect(run.code, run.stderr).toBe(0);
    const hash = (await storedHash('alice'))!;
    expect(await verifyPassword(PASSWORD, hash)).toBe(true);
    // The bug: both lines (and the newline) became the password.
    expect(await verifyPassword(`${PASSWORD}\n${PASSWORD}`, hash)).toBe(false);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  }, 60_000);

  test('CRLF line ends and a single line (scripts) are read the same way', async () => {
    const crlf = await rotorCli(['operator', 'add', 'bob'], `${PASSWORD}\r\n${PASSWORD}\r\n`);
    expect(crlf.code, crlf.stderr).toBe(0);
    expect(await verifyPassword(PASSWORD, (await storedHash('bob'))!)).toBe(true);
    const single = await rotorCli(['operator', 'add', 'carol'], `${PASSWORD}\n`);
    expect(single.code, single.stderr).toBe(0);
    expect(await verifyPassword(PASSWORD, (await storedHash('carol'))!)).toBe(true);
  }, 60_000);

  test('two different lines are refused with ERR_ROTOR_OPERATOR_PASSWORD_MISMATCH and nothing is created', async () => {
    const run = await rotorCli(['operator', 'add', 'dave'], `${PASSWORD}\n${PASSWORD}x\n`);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ERR_ROTOR_OPERATOR_PASSWORD_MISMATCH');
    expect(run.stderr).toContain('the two passwords differ');
    expect(run.stderr).not.toContain(PASSWORD);
    expect(await storedHash('dave')).toBeUndefined();
  }, 60_000);

  test('control characters are refused (tab, escape, DEL, NUL, a bare CR) and nothing is created', async () => {
    for (const bad of [
      `correct\thorse battery`,
      `correct horse\u001b[Abattery`,
      `correct horse battery\u007f`,
      `correct\u0000horse battery`,
      `correct horse\rbattery staple`,
    ]) {
      const run = await rotorCli(['operator', 'add', 'erin'], `${bad}\n${bad}\n`);
      expect(run.code, JSON.stringify(bad)).toBe(1);
      expect(run.stderr).toContain('ERR_ROTOR_OPERATOR_PASSWORD_INVALID');
      expect(await storedHash('erin')).toBeUndefined();
    }
  }, 120_000);

  test('more lines than prompts, or nothing at all, are refused', async () => {
    const three = await rotorCli(
      ['operator', 'add', 'frank'],
      `${PASSWORD}\n${PASSWORD}\n${PASSWORD}\n`,
    );
    expect(three.code).toBe(1);
    expect(three.stderr).toContain('ERR_ROTOR_VALUE_INVALID');
    const empty = await rotorCli(['operator', 'add', 'frank'], '');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('ERR_ROTOR_VALUE_MISSING');
    expect(await storedHash('frank')).toBeUndefined();
  }, 60_000);

  test('--password-file with a second line is refused as a control character, with one line it works', async () => {
    writeFileSync(join(dir, 'two-lines.txt'), `${PASSWORD}\n${PASSWORD}\n`);
    const two = await rotorCli(['operator', 'add', 'gina', '--password-file', 'two-lines.txt'], '');
    expect(two.code).toBe(1);
    expect(two.stderr).toContain('ERR_ROTOR_OPERATOR_PASSWORD_INVALID');
    writeFileSync(join(dir, 'one-line.txt'), `${PASSWORD}\n`);
    const one = await rotorCli(['operator', 'add', 'gina', '--password-file', 'one-line.txt'], '');
    expect(one.code, one.stderr).toBe(0);
    expect(await verifyPassword(PASSWORD, (await storedHash('gina'))!)).toBe(true);
  }, 60_000);
});
