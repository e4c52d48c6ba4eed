#!/usr/bin/env node
// The `rotor` executable: the only place that calls process.exit.
import { commandWord, isReadingCommand } from './command-word.js';
import { prebuiltHelp } from './prebuilt-help.js';
import { VERSION } from './version.js';

// A reader that stops early (`rotor audit export | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Answered before the command tree loads: scripts and shell prompts call this often.
  process.stdout.write(`${VERSION}\n`);
} else if (prebuiltHelp(argv, process.stdout) !== undefined) {
  process.stdout.write(prebuiltHelp(argv, process.stdout)!);
} else {
  // The reading commands come from a bundle of their own (reading-commands.ts), the others from
  // the whole command tree; each is the same CLI (the same commander tree, errors and exit codes).
  const { run, processIo, exitCodeOf, reportError } = isReadingCommand(commandWord(argv))
    ? await import('./reading-commands.js').then((m) => ({ ...m, run: m.runReadingCommand }))
    : await Promise.all([
        import('./program.js'),
        import('./io.js'),
        import('./report-error.js'),
      ]).then(([program, io, report]) => ({ ...io, ...report, run: program.runCli }));
  const io = processIo();
  // Last resort: a failure the command tree did not report (a bug) is ERR_ROTOR_INTERNAL, exit 70.
  const fail = (error: unknown) => {
    reportError(io, error, false);
    return exitCodeOf(error);
  };
  process.on('uncaughtException', (error) => process.exit(fail(error)));
  process.exitCode = await run(argv, { io }).catch(fail);
}
