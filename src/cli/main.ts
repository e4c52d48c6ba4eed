#!/usr/bin/env node
// The whole CLI as an ES module: `rotor` (bin.ts) hands it every command but the reading ones,
// and `node dist/cli/main.js` runs any command. The reading commands (status, check, get, run)
// come from their own CommonJS bundle (reading-commands-loader.ts), or from the sources under tsx;
// each path is the same CLI (the same commander tree, errors and exit codes).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandWord, isReadingCommand } from './command-word.js';
import {
  answerWithoutCommands,
  exitQuietlyOnEpipe,
  runCommand,
  type CommandRunner,
} from './entry.js';
import { loadReadingCommands } from './reading-commands-loader.js';

async function runner(argv: string[]): Promise<CommandRunner> {
  if (isReadingCommand(commandWord(argv))) {
    return (
      loadReadingCommands(dirname(fileURLToPath(import.meta.url)))?.commands ??
      (await import('./reading-commands.js'))
    );
  }
  const [program, io, report] = await Promise.all([
    import('./program.js'),
    import('./io.js'),
    import('./report-error.js'),
  ]);
  return { ...io, ...report, run: program.runCli };
}

exitQuietlyOnEpipe();
const argv = process.argv.slice(2);
if (!answerWithoutCommands(argv)) await runCommand(argv, await runner(argv));
