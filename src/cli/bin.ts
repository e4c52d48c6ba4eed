#!/usr/bin/env node
// `rotor` as npm links it: scripts/build.mjs bundles this file as CommonJS (dist/cli/rotor.cjs),
// because an ES module entry costs ~10 ms of loader start-up before any of Rotor runs. It answers
// --version and the prebuilt --help itself, runs the reading commands (status, check, get, run)
// from their CommonJS bundle, and hands every other command to the whole CLI (main.ts).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandWord, isReadingCommand } from './command-word.js';
import { answerWithoutCommands, exitQuietlyOnEpipe, runCommand } from './entry.js';
import { loadReadingCommands } from './reading-commands-loader.js';

async function main(): Promise<void> {
  exitQuietlyOnEpipe();
  const argv = process.argv.slice(2);
  if (answerWithoutCommands(argv)) return;
  const reading = isReadingCommand(commandWord(argv))
    ? loadReadingCommands(dirname(fileURLToPath(import.meta.url)))
    : undefined;
  if (reading === undefined) {
    await import(new URL('./main.js', import.meta.url).href);
    return;
  }
  await runCommand(argv, reading.commands);
}

void main();
