// `rotor --help` without loading commander: scripts/build.mjs renders the overview once, with
// commander itself and stdout not a terminal (so 80 columns, no colour), and defines it as
// __ROTOR_HELP__. A terminal, whose width commander would use, still gets commander's own.
declare const __ROTOR_HELP__: string | undefined;

const HELP: string | undefined = typeof __ROTOR_HELP__ === 'string' ? __ROTOR_HELP__ : undefined;

/** The prebuilt overview when argv asks only for it and stdout is not a terminal. */
export function prebuiltHelp(
  argv: readonly string[],
  stdout: { isTTY?: boolean },
): string | undefined {
  if (HELP === undefined || stdout.isTTY || argv.length !== 1) return undefined;
  return argv[0] === '--help' || argv[0] === '-h' ? HELP : undefined;
}
