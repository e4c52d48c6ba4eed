// `rotor import NAME --env E [--rotated-at DATE] [--from-file F]`: adopts a value a team
// already uses as the secret's first version. The value comes from the file, a hidden prompt
// or stdin, never argv; everything that can be checked without it is checked first.
import type { Command } from 'commander';
import {
  assertImportable,
  assertRotatedAt,
  importValue,
} from '../../core/delivery/import-value.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import type { Wrap } from '../program.js';
import { parseDateOption } from '../parse-date.js';
import { readSecretInput } from '../secret-input.js';

export interface ImportOptions {
  env: string;
  rotatedAt?: string;
  fromFile?: string;
}

export async function importCommand(
  ctx: CommandContext,
  options: ImportOptions,
  name: string,
): Promise<number> {
  const { rotor, io } = ctx;
  const rotatedAt =
    options.rotatedAt === undefined
      ? null
      : parseDateOption('--rotated-at', options.rotatedAt, 'start');
  assertRotatedAt(rotatedAt, rotor.clock.now());
  await assertImportable(rotor, name, options.env);
  // A wrong master key is found before anyone types a value.
  await rotor.masterKey();
  const value = await readSecretInput(io, {
    ...(options.fromFile === undefined ? {} : { fromFile: options.fromFile }),
    prompt: `Current value of ${name} in ${options.env} (input hidden): `,
  });
  const result = await importValue(rotor, ctx.actor, {
    secret: name,
    environment: options.env,
    value,
    rotatedAt,
  });
  const rotated = result.rotatedAt === null ? null : new Date(result.rotatedAt).toISOString();
  if (ctx.json) {
    printJson(io, {
      secret: result.secret,
      environment: result.environment,
      versionId: result.versionId,
      origin: 'import',
      rotatedAt: rotated,
      promotedAt: new Date(result.promotedAt).toISOString(),
      requestId: ctx.actor.requestId,
    });
    return 0;
  }
  print(io, `imported ${name} in ${options.env} as current version ${result.versionId}`);
  print(
    io,
    rotated === null
      ? 'last rotation date unknown: status shows it as unknown until its first rotation (pass --rotated-at to record the real date)'
      : `last rotated ${rotated}`,
  );
  print(io, `request ${ctx.actor.requestId}`);
  return 0;
}

export function registerImport(program: Command, wrap: Wrap): void {
  program
    .command('import')
    .description(
      'adopt a value already in use as the first version (from stdin, --from-file, or a hidden prompt)',
    )
    .argument('<name>', 'secret name, e.g. SMTP_PASSWORD')
    .requiredOption(
      '-e, --env <environment>',
      'environment the value is used in (default ROTOR_ENV)',
    )
    .option(
      '--rotated-at <date>',
      'when the value was really last changed (YYYY-MM-DD or ISO date-time); unknown if omitted',
    )
    .option('--from-file <file>', 'read the value from this file (one trailing newline is dropped)')
    .option('--json', 'machine-readable output')
    .action(wrap(importCommand));
}
