// The command table (src/cli/commands/index.ts) lists every command for `rotor --help` without
// loading it; these tests keep the table and the real registrations from drifting apart, and
// check that argv is matched to the command it names.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandNamed, COMMANDS } from '../src/cli/commands/index.js';
import type { Wrap } from '../src/cli/program.js';

const noWrap: Wrap = () => async () => {};

describe('the command table', () => {
  it.each(COMMANDS.map((entry) => [entry.name, entry] as const))(
    'lists %s as its registration describes it',
    async (name, entry) => {
      const program = new Command('rotor');
      (await entry.load())(program, noWrap);
      const real = program.commands.find((command) => command.name() === name);
      expect(
        program.commands.map((command) => command.name()),
        `${name} registers a command of that name`,
      ).toContain(name);
      expect(entry.summary).toBe(real!.description());
      const args = real!.registeredArguments.map((a) =>
        a.required
          ? `<${a.name()}${a.variadic ? '...' : ''}>`
          : `[${a.name()}${a.variadic ? '...' : ''}]`,
      );
      expect(entry.args ?? '').toBe(args.join(' '));
      expect(entry.options).toBe(real!.options.length > 0);
    },
  );

  it('finds the command after global options, and the topic of `help`', () => {
    expect(commandNamed(['status'])?.name).toBe('status');
    expect(
      commandNamed(['--config', 'x.yaml', '--operator', 'ann', 'rotate', 'JWT_ACCESS_SECRET'])
        ?.name,
    ).toBe('rotate');
    expect(commandNamed(['-c', 'status', 'check'])?.name).toBe('check');
    expect(commandNamed(['help', 'audit'])?.name).toBe('audit');
    expect(commandNamed(['--version'])).toBeUndefined();
    expect(commandNamed(['stauts'])).toBeUndefined();
    expect(commandNamed([])).toBeUndefined();
  });
});
