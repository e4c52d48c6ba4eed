#!/usr/bin/env node
// The `rotor` executable: the only place that calls process.exit.
import { runCli } from './program.js';
import { processIo } from './io.js';

// A reader that stops early (`rotor audit export | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const code = await runCli(process.argv.slice(2), { io: processIo() });
process.exitCode = code;
