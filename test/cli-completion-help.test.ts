// Shell completion generated from the command table and the real options, and examples in
// --help (issue 11 §5).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands/index.js';
import { cli, freshDir } from './helpers/in-process-cli.js';

/** Asks the generated bash completion what it offers after `words` (the last one is being typed). */
function complete(script: string, words: string[]): string[] {
  const dir = freshDir('rotor-complete-');
  const file = join(dir, 'rotor.bash');
  writeFileSync(file, script);
  const probe = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _rotor; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = spawnSync('bash', ['-c', probe, 'bash', file, ...words], { encoding: 'utf8' });
  expect(out.status, out.stderr).toBe(0);
  return out.stdout.split('\n').filter(Boolean);
}

describe('rotor completion', () => {
  it('bash: completes every command, subcommands, each command’s real options and their choices', async () => {
    const dir = freshDir('rotor-complete-');
    const result = await cli(dir, ['completion', 'bash']);
    expect(result.code, result.stderr).toBe(0);
    const script = result.stdout;
    expect(complete(script, ['rotor', '']).sort()).toEqual(
      expect.arrayContaining(COMMANDS.map((c) => c.name).sort()),
    );
    expect(complete(script, ['rotor', 'ro'])).toEqual(['rotate']);
    expect(complete(script, ['rotor', 'audit', 'ex'])).toEqual(['export']);
    expect(complete(script, ['rotor', 'run', '--'])).toEqual(
      expect.arrayContaining(['--watch', '--on-change', '--stop-timeout', '--env', '--secret']),
    );
    expect(complete(script, ['rotor', 'export', '--format', ''])).toEqual([
      'dotenv',
      'json',
      'shell',
    ]);
    // A value after a global option that takes one is skipped, not taken for the command.
    expect(complete(script, ['rotor', '--config', 'x.yaml', 'sta'])).toEqual(['status']);
    expect(complete(script, ['rotor', 'rotate', 'JWT_ACCESS_SECRET', '--em'])).toEqual([
      '--emergency',
    ]);
    expect(complete(script, ['rotor', 'token', ''])).toEqual(
      expect.arrayContaining(['create', 'list', 'revoke']),
    );
  });

  it('zsh and fish scripts name every command and option', async () => {
    const dir = freshDir('rotor-complete-');
    const zsh = await cli(dir, ['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef rotor/);
    expect(zsh.stdout).toContain('bashcompinit');
    expect(zsh.stdout).toContain('complete -F _rotor rotor');
    const fish = await cli(dir, ['completion', 'fish']);
    expect(fish.code).toBe(0);
    for (const entry of COMMANDS) expect(fish.stdout).toContain(`-a ${entry.name} -d`);
    expect(fish.stdout).toContain(
      "complete -c rotor -n '__fish_seen_subcommand_from run' -l watch",
    );
    expect(fish.stdout).toContain("-l format -x -a 'dotenv json shell'");
    // fish is not installed here: its syntax is checked where it is.
    const fishBin = spawnSync('fish', ['--no-execute', '-c', fish.stdout], { encoding: 'utf8' });
    if (fishBin.error === undefined) expect(fishBin.status, fishBin.stderr).toBe(0);
    const zshBin = spawnSync('zsh', ['-n', '-c', zsh.stdout], { encoding: 'utf8' });
    if (zshBin.error === undefined) expect(zshBin.status, zshBin.stderr).toBe(0);
  });

  it('refuses a shell it has no script for', async () => {
    const result = await cli(freshDir(), ['completion', 'powershell']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERR_ROTOR_CLI_USAGE');
    expect(result.stdout).toBe('');
  });
});

describe('examples in --help', () => {
  it('rotor --help and a command’s --help end with examples', async () => {
    const dir = freshDir();
    const top = await cli(dir, ['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Examples:');
    expect(top.stdout).toContain('rotor run -e production --watch -- node app.js');
    const run = await cli(dir, ['run', '--help']);
    expect(run.stdout).toContain('Examples:');
    expect(run.stdout).toContain('--on-change SIGHUP');
    const rotate = await cli(dir, ['help', 'rotate']);
    expect(rotate.stdout).toContain('--emergency --reason');
  });
});
