#!/usr/bin/env node
// The `rotor` executable: the only place that calls process.exit.
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
  const [{ runCli }, { processIo }, { exitCodeOf, reportError }] = await Promise.all([
    import('./program.js'),
    import('./io.js'),
    import('./report-error.js'),
  ]);
  const io = processIo();
  // Last resort: a failure runCli did not report (a bug) is ERR_ROTOR_INTERNAL, exit 70.
  const fail = (error: unknown) => {
    reportError(io, error, false);
    return exitCodeOf(error);
  };
  process.on('uncaughtException', (error) => process.exit(fail(error)));
  process.exitCode = await runCli(argv, { io }).catch(fail);
}
