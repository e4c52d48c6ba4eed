// One error surface: every code has an HTTP status and a line in docs/errors.md, core never
// throws the CLI's usage code, and a failure that is not a RotorError is ERR_ROTOR_INTERNAL
// (a bug, with no cause text) from the CLI process and from the server.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  errorInfo,
  INTERNAL_MESSAGE,
  RotorError,
  toRotorError,
} from '../src/core/errors.js';
import { buildApp } from '../src/server/app.js';
import { HTTP_STATUS, httpStatusOf } from '../src/server/errors.js';
import { freshDir, MAIN } from './helpers/in-process-cli.js';
import { createProject } from './helpers/project.js';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Every .ts file below a folder of src/. */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** The `| \`CODE\` | status | meaning |` rows of docs/errors.md. */
function documentedCodes(): Map<string, number> {
  const rows = new Map<string, number>();
  const text = readFileSync('docs/errors.md', 'utf8');
  for (const m of text.matchAll(/^\| `(ERR_ROTOR_[A-Z0-9_]+)` \| (\d{3}) \|/gm)) {
    expect(rows.has(m[1]!), `${m[1]} is listed twice`).toBe(false);
    rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

describe('the list of codes', () => {
  it('the HTTP status map covers exactly the codes, each with a 4xx or 5xx status', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      expect(HTTP_STATUS[code], code).toBeGreaterThanOrEqual(400);
      expect(HTTP_STATUS[code], code).toBeLessThan(600);
    }
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(httpStatusOf('ERR_ROTOR_NOT_A_CODE')).toBe(500);
    expect(httpStatusOf('toString')).toBe(500);
  });

  it('docs/errors.md lists every code once, with the status the server answers', () => {
    const documented = documentedCodes();
    expect([...documented.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(documented.get(code), code).toBe(HTTP_STATUS[code]);
  });

  it('every ERR_ROTOR_ string in src is a code in the list (no typo escapes the type)', () => {
    const known = new Set<string>(ERROR_CODES);
    const unknown: string[] = [];
    for (const file of sources('src')) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(ERR_ROTOR_[A-Z0-9_]*[A-Z0-9])'/g))
        if (!known.has(m[1]!)) unknown.push(`${file}: ${m[1]}`);
    }
    expect(unknown).toEqual([]);
  });

  it('only the command line throws ERR_ROTOR_CLI_USAGE: core, rotators, server and SDK do not', () => {
    const offenders = ['src/core', 'src/rotators', 'src/server', 'src/sdk']
      .flatMap(sources)
      .filter((file) => readFileSync(file, 'utf8').includes("'ERR_ROTOR_CLI_USAGE'"))
      .filter((file) => file !== join('src', 'core', 'errors.ts'))
      .filter((file) => file !== join('src', 'server', 'errors.ts'));
    expect(offenders).toEqual([]);
  });
});

describe('errorInfo and toRotorError', () => {
  it('a RotorError keeps its code, message and details', () => {
    const error = new RotorError('ERR_ROTOR_SECRET_UNKNOWN', 'unknown secret "X"', {
      details: { secret: 'X' },
    });
    expect(toRotorError(error)).toBe(error);
    expect(errorInfo(error, { fallback: 'ERR_ROTOR_ROTATION_FAILED' })).toEqual({
      code: 'ERR_ROTOR_SECRET_UNKNOWN',
      message: 'unknown secret "X"',
      details: { secret: 'X' },
    });
  });

  it('a RotorError from another copy of the module is still a RotorError; a look-alike is not', async () => {
    // The CLI's reading bundle (CommonJS) and its deferred parts (ES modules) each hold a copy.
    const secondCopy = '../src/core/errors.js?second-copy';
    const other = (await import(secondCopy)) as typeof import('../src/core/errors.js');
    expect(other.RotorError).not.toBe(RotorError);
    const foreign = new other.RotorError('ERR_ROTOR_STORE_UNAVAILABLE', 'store down');
    expect(foreign instanceof RotorError).toBe(true);
    expect(toRotorError(foreign)).toBe(foreign);
    expect(errorInfo(foreign).code).toBe('ERR_ROTOR_STORE_UNAVAILABLE');
    const lookAlike = Object.assign(new Error('x'), { code: 'ERR_ROTOR_STORE_UNAVAILABLE' });
    expect(lookAlike instanceof RotorError).toBe(false);
    expect(toRotorError(lookAlike).code).toBe('ERR_ROTOR_INTERNAL');
    class Narrower extends RotorError {}
    expect(new RotorError('ERR_ROTOR_INTERNAL', 'x') instanceof Narrower).toBe(false);
    expect(new Narrower('ERR_ROTOR_INTERNAL', 'x') instanceof RotorError).toBe(true);
  });

  it('anything else is ERR_ROTOR_INTERNAL saying it is a bug, without the cause text', () => {
    const cause = new TypeError('cannot read x of undefined (value hunter2)');
    const internal = toRotorError(cause, { where: 'the server log' });
    expect(internal.code).toBe('ERR_ROTOR_INTERNAL');
    expect(internal.message).toBe(`${INTERNAL_MESSAGE} (the cause: the server log)`);
    expect(internal.message).toContain('a bug in Rotor');
    expect(internal.message).not.toContain('hunter2');
    expect(internal.cause).toBe(cause);
    expect(internal.details).toEqual({ cause: 'TypeError' });
    expect(errorInfo('a thrown string')).toMatchObject({
      code: 'ERR_ROTOR_INTERNAL',
      message: INTERNAL_MESSAGE,
    });
  });

  it('with a fallback (the rotation journal) a foreign error keeps its message under that code', () => {
    expect(
      errorInfo(new Error('connect ECONNREFUSED'), { fallback: 'ERR_ROTOR_ROTATION_FAILED' }),
    ).toEqual({ code: 'ERR_ROTOR_ROTATION_FAILED', message: 'connect ECONNREFUSED' });
  });
});

describe('a bug seen from outside', () => {
  /** Node flags that make the CLI's stdout throw a TypeError carrying a would-be secret. */
  function brokenStdout(dir: string): string[] {
    const preload = join(dir, 'broken-stdout.mjs');
    writeFileSync(
      preload,
      "process.stdout.write = () => { throw new TypeError('stdout broke holding hunter2'); };\n",
    );
    return ['--import', preload];
  }

  it('the CLI reports a failure in a command as ERR_ROTOR_INTERNAL, exit 70, no cause text', async () => {
    expect(existsSync(MAIN), 'run `npm run build` first').toBe(true);
    const dir = freshDir('rotor-errors-');
    dirs.push(dir);
    const result = await run(process.execPath, [...brokenStdout(dir), MAIN, 'completion', 'bash'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1' },
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(70);
    expect(result.stderr).toBe(
      `rotor: ERR_ROTOR_INTERNAL: ${INTERNAL_MESSAGE} (the cause: ROTOR_DEBUG=1 prints its stack)\n`,
    );
  }, 90_000);

  it('the CLI keeps a usage error apart: exit 2 for an unknown option, 1 for a Rotor error', async () => {
    const project = await createProject();
    dirs.push(project.dir);
    expect((await project.cli(['status', '--no-such-flag'])).code).toBe(2);
    const unknown = await project.cli(['get', 'NOPE', '--env', 'production']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('ERR_ROTOR_SECRET_UNKNOWN');
  });

  it('the server answers a failure that is not a RotorError with 500 ERR_ROTOR_INTERNAL', async () => {
    const project = await createProject();
    dirs.push(project.dir);
    const rotor = project.rotor();
    const app = await buildApp({
      rotor,
      requestLogging: false,
      plugins: [
        async (instance) => {
          instance.get('/boom', () => {
            throw new TypeError('a driver said hunter2');
          });
        },
      ],
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/boom' });
      expect(res.statusCode).toBe(500);
      const body = res.json<{ error: Record<string, unknown> }>();
      expect(body.error).toEqual({
        code: 'ERR_ROTOR_INTERNAL',
        message: `${INTERNAL_MESSAGE} (the cause: the server log, under this request id)`,
        requestId: res.headers['x-request-id'] ?? body.error.requestId,
        details: { cause: 'TypeError' },
      });
      expect(res.body).not.toContain('hunter2');
    } finally {
      await app.close();
      await rotor.close();
    }
  });
});
