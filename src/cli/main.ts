#!/usr/bin/env node
// The `rotor` executable: the only place that calls process.exit.
import { runCli } from './program.js';
import { processIo } from './io.js';

const code = await runCli(process.argv.slice(2), { io: processIo() });
process.exitCode = code;
