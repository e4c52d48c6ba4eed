#!/usr/bin/env node
// The `rotor` executable: the only place that calls process.exit.
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
} else {
  const [{ runCli }, { processIo }] = await Promise.all([
    import('./program.js'),
    import('./io.js'),
  ]);
  process.exitCode = await runCli(argv, { io: processIo() });
}
