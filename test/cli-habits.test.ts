// CLI habits of the ecosystem (issue 11 §5): did-you-mean, ROTOR_ENV and -e, unknown options,
// audit filters that name nothing.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../src/core/suggest.js';
import { addSecrets, cli, freshDir } from './helpers/in-process-cli.js';

async function project(): Promise<string> {
  const dir = freshDir('rotor-habits-');
  expect((await cli(dir, ['init'])).code).toBe(0);
  expect((await cli(dir, ['apply'])).code).toBe(0);
  return dir;
}

describe('did you mean', () => {
  it('suggests the secret, environment or rotor.yaml field a typo was meant to be', async () => {
    const dir = await project();
    const secret = await cli(dir, ['get', 'JWT_ACCES_SECRET', '--env', 'staging']);
    expect(secret.code).toBe(1);
    expect(secret.stderr).toContain('ERR_ROTOR_SECRET_UNKNOWN');
    expect(secret.stderr).toContain('(did you mean JWT_ACCESS_SECRET?)');
    const env = await cli(dir, ['export', '--env', 'prodution', '--format', 'json']);
    expect(env.stderr).toContain('ERR_ROTOR_ENV_UNKNOWN');
    expect(env.stderr).toContain('(did you mean production?)');
    const status = await cli(dir, ['status', '--env', 'stagng']);
    expect(status.stderr).toContain('(did you mean staging?)');
    const rotate = await cli(dir, ['rotate', 'METRICS_AUTH_TOKN']);
    expect(rotate.stderr).toContain('(did you mean METRICS_AUTH_TOKEN?)');

    addSecrets(dir, '  EXTRA_TOKEN:\n    kind: random\n    cadance: 90d\n');
    const applied = await cli(dir, ['apply']);
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('unknown field "cadance" (did you mean cadence?)');
  });

  it('suggests nothing for a name that is not close to any', async () => {
    const dir = await project();
    const result = await cli(dir, ['get', 'COMPLETELY_OTHER', '--env', 'staging']);
    expect(result.stderr).toContain('ERR_ROTOR_SECRET_UNKNOWN');
    expect(result.stderr).not.toContain('did you mean');
    expect(closest('prod', ['staging', 'production'])).toBeUndefined();
    expect(closest('jwt_access_secret', ['JWT_ACCESS_SECRET'])).toBe('JWT_ACCESS_SECRET');
    expect(editDistance('cadance', 'cadence')).toBe(1);
    expect(editDistance('ab', 'ba')).toBe(1);
  });
});

describe('audit filters', () => {
  it('audit list --secret NOPE exits non-zero naming the problem; a secret with history still lists', async () => {
    const dir = await project();
    const nope = await cli(dir, ['audit', 'list', '--secret', 'NOPE']);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toContain('ERR_ROTOR_SECRET_UNKNOWN');
    const typo = await cli(dir, ['audit', 'list', '--secret', 'SMTP_PASWORD']);
    expect(typo.stderr).toContain('(did you mean SMTP_PASSWORD?)');
    const env = await cli(dir, ['audit', 'export', '--env', 'qa']);
    expect(env.code).toBe(1);
    expect(env.stderr).toContain('ERR_ROTOR_ENV_UNKNOWN');
    // A known secret: exit 0, whatever the filters leave.
    const known = await cli(dir, [
      'audit',
      'list',
      '--secret',
      'SMTP_PASSWORD',
      '--action',
      'rotate',
    ]);
    expect(known.code).toBe(0);
    expect(known.stdout).toContain('no audit events match');
    // Removed from rotor.yaml but in the log: its history is still listed.
    addSecrets(dir, '  OLD_TOKEN:\n    kind: random\n    cadence: 90d\n');
    expect((await cli(dir, ['apply'])).code).toBe(0);
    expect((await cli(dir, ['rotate', 'OLD_TOKEN', '--env', 'staging'])).code).toBe(0);
    const file = join(dir, 'rotor.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('  OLD_TOKEN:\n    kind: random\n    cadence: 90d\n', ''),
    );
    const history = await cli(dir, ['audit', 'list', '--secret', 'OLD_TOKEN', '--json']);
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout).count).toBeGreaterThan(0);
  });
});

describe('ROTOR_ENV and -e', () => {
  it('ROTOR_ENV fills a required --env; an explicit -e wins', async () => {
    const dir = await project();
    expect(
      (await cli(dir, ['import', 'SMTP_PASSWORD'], 'staging-smtp-1', { ROTOR_ENV: 'staging' }))
        .code,
    ).toBe(0);
    expect(
      (
        await cli(dir, ['import', 'SMTP_PASSWORD', '-e', 'production'], 'prod-smtp-12', {
          ROTOR_ENV: 'staging',
        })
      ).code,
    ).toBe(0);
    expect((await cli(dir, ['get', 'SMTP_PASSWORD'], '', { ROTOR_ENV: 'staging' })).stdout).toBe(
      'staging-smtp-1',
    );
    expect(
      (await cli(dir, ['get', 'SMTP_PASSWORD', '-e', 'production'], '', { ROTOR_ENV: 'staging' }))
        .stdout,
    ).toBe('prod-smtp-12');
    const missing = await cli(dir, ['get', 'SMTP_PASSWORD']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("required option '-e, --env <environment>' not specified");
  });

  it('rotor run takes -e, and refuses an --env given twice (a child -e without --)', async () => {
    const dir = await project();
    expect(
      (await cli(dir, ['import', 'SMTP_PASSWORD', '-e', 'staging'], 'staging-smtp-1')).code,
    ).toBe(0);
    const twice = await cli(dir, ['run', '-e', 'staging', process.execPath, '-e', 'production']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('given twice');
  });
});

describe('unknown options', () => {
  it('an unknown option before the command is an error, even beside --version or --help', async () => {
    const dir = await project();
    for (const argv of [
      ['--bogus', '--version'],
      ['--version', '--bogus'],
      ['--bogus', '--help'],
      ['--jsn', 'status'],
      ['--bogus=1', 'status'],
    ]) {
      const result = await cli(dir, argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr).toContain('unknown option');
      expect(result.stdout).toBe('');
    }
    expect((await cli(dir, ['--config', 'rotor.yaml', 'status'])).code).toBe(0);
    expect((await cli(dir, ['--version'])).code).toBe(0);
  });
});

describe('one vocabulary', () => {
  it('status and check count ok the same way (a row in its grace window is ok in both)', async () => {
    const dir = await project();
    expect((await cli(dir, ['rotate', 'METRICS_AUTH_TOKEN', '-e', 'staging'])).code).toBe(0);
    expect((await cli(dir, ['rotate', 'METRICS_AUTH_TOKEN', '-e', 'staging'])).code).toBe(0);
    const status = await cli(dir, ['status']);
    const summary = status.stdout
      .trim()
      .split('\n')
      .find((l) => l.includes('secret×environment rows'))!;
    const check = await cli(dir, ['check']);
    const perf = Object.fromEntries(
      check.stdout
        .split('\n')[0]!
        .split('|')[1]!
        .trim()
        .split(' ')
        .map((kv) => kv.split('=') as [string, string]),
    );
    expect(Number(perf.in_grace)).toBe(1);
    expect(summary).toContain(`: ${perf.ok} ok, ${perf.unknown} unknown;`);
    expect(summary).toContain('1 with a grace window open');
  });

  it('check with a wrong master key says so and is CRITICAL; without a key at all it still runs', async () => {
    const dir = await project();
    const wrong = await cli(dir, ['check'], '', {
      ROTOR_MASTER_KEY: randomBytes(32).toString('base64'),
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stdout).toMatch(/^ROTOR CRITICAL - wrong master key; /);
    expect(wrong.stdout).toContain(
      'CRITICAL: ROTOR_MASTER_KEY/* the master key from ROTOR_MASTER_KEY does not open this store (wrong key)',
    );
    const json = await cli(dir, ['check', '--json'], '', {
      ROTOR_MASTER_KEY: randomBytes(32).toString('base64'),
    });
    expect(JSON.parse(json.stdout).problems[0]).toMatchObject({
      problem: 'wrong-master-key',
      status: 'CRITICAL',
    });
    rmSync(join(dir, '.rotor', 'master.key'));
    const keyless = await cli(dir, ['check']);
    expect(keyless.code).toBe(3); // the inventory has never been rotated: UNKNOWN, not a key problem
    expect(keyless.stdout).not.toContain('master key');
  });
});

describe('rotor.yaml found like git', () => {
  it('a command in a subdirectory uses the rotor.yaml above and the state directory beside it', async () => {
    const dir = await project();
    const deep = join(dir, 'src', 'deep');
    mkdirSync(deep, { recursive: true });
    expect(
      (await cli(deep, ['import', 'SMTP_PASSWORD', '-e', 'staging'], 'from-a-subdir-1')).code,
    ).toBe(0);
    expect((await cli(dir, ['get', 'SMTP_PASSWORD', '-e', 'staging'])).stdout).toBe(
      'from-a-subdir-1',
    );
    expect((await cli(deep, ['get', 'SMTP_PASSWORD', '-e', 'staging'])).stdout).toBe(
      'from-a-subdir-1',
    );
    expect(existsSync(join(deep, '.rotor'))).toBe(false);
    // init, like git init, sets up the directory it runs in.
    const nested = await cli(deep, ['init']);
    expect(nested.code, nested.stderr).toBe(0);
    expect(
      existsSync(join(deep, 'rotor.yaml')) && existsSync(join(deep, '.rotor', 'master.key')),
    ).toBe(true);
    expect((await cli(dir, ['get', 'SMTP_PASSWORD', '-e', 'staging'])).stdout).toBe(
      'from-a-subdir-1',
    );
  });

  it('outside any project the error still names rotor.yaml and rotor init', async () => {
    const result = await cli(freshDir(), ['status']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/rotor init|rotor\.yaml/);
  });
});
