// Which command an argv names, found without loading the command table: main.ts routes the
// reading commands to their own bundle with it (scripts/build.mjs), before anything else loads.

/** Global options that take a value, so the command name is found after them. */
const GLOBAL_VALUE_OPTIONS = new Set(['-c', '--config', '--state-dir', '--operator', '--value']);

/**
 * The command word of an argv (`rotor --config x.yaml status --json` → `status`; `rotor help
 * rotate` → `rotate`), or undefined when there is none. Not checked against the commands.
 */
export function commandWord(argv: readonly string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i += 1) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (GLOBAL_VALUE_OPTIONS.has(arg)) i += 1;
      continue;
    }
    words.push(arg);
  }
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * The commands that only read the store (and audit the read): `rotor status`, `check`, `get`,
 * `run`. They run from one bundle of their own (src/cli/reading-commands.ts), so a command loads
 * a handful of files rather than the forty-odd chunks the whole command tree splits into.
 */
export const READING_COMMANDS = ['status', 'check', 'get', 'run'] as const;

export type ReadingCommand = (typeof READING_COMMANDS)[number];

export function isReadingCommand(name: string | undefined): name is ReadingCommand {
  return (READING_COMMANDS as readonly (string | undefined)[]).includes(name);
}
