// `rotor export --env E --format dotenv|json|shell [--output FILE]`: every value an
// environment uses, plus NAME_PREVIOUS while a grace window is open.
//
// Quoting, so any value round-trips:
// - shell: `export NAME='…'`, a `'` written as `'\''`; POSIX sh and bash read it back exactly
//   (`$`, backticks, `"`, `\` and newlines are literal inside single quotes).
// - dotenv: for dotenv parsers (the `dotenv` package, `node --env-file`), which have no escape
//   for quote characters: single quotes when the value holds no `'` and no line break; else
//   double quotes with line breaks written as `\n` (which those parsers expand), when the value
//   holds no `"` and no literal `\n`/`\r`; else backquotes (line breaks literal). Both parsers
//   turn CR into LF, so a value with a CR, or with ', " and ` together, is refused with a
//   pointer to --format shell or json rather than written wrong.
// - json: one object { NAME: value }.
// An --output file is written atomically with mode 0600. A terminal gets values only with
// --reveal, like `rotor get`.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { readEnvironmentValues, type DeliveredValue } from '../../core/delivery/read-values.js';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import { collectOption } from '../io.js';
import type { Wrap } from '../program.js';

export const EXPORT_FORMATS = ['dotenv', 'json', 'shell'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  env: string;
  format?: ExportFormat;
  output?: string;
  secret?: string[];
  reveal?: boolean;
  json?: boolean;
}

/** POSIX single-quoting: safe for every byte but NUL, which environment values cannot hold. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Dotenv quoting (see the file header); throws when no quoting the parsers know fits. */
export function dotenvQuote(name: string, value: string): string {
  const refuse = (why: string) =>
    new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${name} holds ${why}, which dotenv files cannot carry: use --format shell or --format json`,
      { details: { secret: name } },
    );
  if (value.includes('\r')) throw refuse('a carriage return');
  if (!value.includes("'") && !value.includes('\n')) return `'${value}'`;
  if (!value.includes('"') && !/\\[nr]/.test(value)) return `"${value.replace(/\n/g, '\\n')}"`;
  if (!value.includes('`')) return `\`${value}\``;
  throw refuse(`', " and \` together`);
}

export function formatValues(
  values: readonly DeliveredValue[],
  format: ExportFormat,
  header: string,
): string {
  if (format === 'json') {
    const out: Record<string, string> = {};
    for (const v of values) out[v.variable] = v.value;
    return `${JSON.stringify(out, null, 2)}\n`;
  }
  const lines = [`# ${header}`];
  for (const v of values) {
    lines.push(
      format === 'shell'
        ? `export ${v.variable}=${shellQuote(v.value)}`
        : `${v.variable}=${dotenvQuote(v.variable, v.value)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `text` to `file` with mode 0600: temp file beside it, fsync, rename. */
function writePrivateFile(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}`);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (cause) {
    rmSync(tmp, { force: true });
    const code = (cause as { code?: unknown }).code;
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `cannot write --output ${file}${typeof code === 'string' ? ` (${code})` : ''}`,
      { cause, details: { file } },
    );
  }
}

export async function exportCommand(ctx: CommandContext, options: ExportOptions): Promise<number> {
  if (options.json && options.format !== undefined && options.format !== 'json') {
    throw new RotorError('ERR_ROTOR_CLI_USAGE', `--json conflicts with --format ${options.format}`);
  }
  const format: ExportFormat = options.format ?? (options.json ? 'json' : 'dotenv');
  const output = options.output === undefined ? undefined : resolve(ctx.io.cwd, options.output);
  if (!output && ctx.io.stdout.isTTY && !options.reveal) {
    throw new RotorError(
      'ERR_ROTOR_CLI_REFUSE_TTY',
      'refusing to print secret values to a terminal: use --output FILE, redirect or pipe it, or pass --reveal',
    );
  }
  const result = await readEnvironmentValues(ctx.rotor, ctx.actor, {
    environment: options.env,
    action: 'read.export',
    ...(options.secret ? { secrets: options.secret } : {}),
    details: { format, output: output ?? null },
    // Quote (and possibly refuse) before the read is recorded or anything is written.
    validate: (values) => void formatValues(values, format, ''),
  });
  const text = formatValues(
    result.values,
    format,
    `rotor export --env ${options.env} (request ${ctx.actor.requestId}): secret values, keep private`,
  );
  if (result.missing.length > 0) {
    ctx.io.stderr.write(
      `rotor: warning: no current value in ${options.env} for ${result.missing.join(', ')} (import or rotate them)\n`,
    );
  }
  if (output) {
    writePrivateFile(output, text);
    ctx.io.stderr.write(
      `wrote ${result.values.length} value(s) to ${options.output} (mode 0600), request ${ctx.actor.requestId}\n`,
    );
  } else {
    ctx.io.stdout.write(text);
  }
  return 0;
}

export function registerExport(program: Command, wrap: Wrap): void {
  program
    .command('export')
    .description(
      "print (or write) an environment's values: NAME, and NAME_PREVIOUS during a grace window",
    )
    .requiredOption('-e, --env <environment>', 'environment to export (default ROTOR_ENV)')
    .addOption(
      new Option('--format <format>', 'dotenv (default), json or shell').choices([
        ...EXPORT_FORMATS,
      ]),
    )
    .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
    .option('--secret <name>', 'only this secret (repeatable)', collectOption)
    .option('--reveal', 'allow printing to a terminal')
    .option('--json', 'same as --format json')
    .action(wrap(exportCommand));
}
