// `rotor schema`: the JSON Schema of rotor.yaml, for editors.
import type { Command } from 'commander';
import { withKindConfigs } from '../../core/policy/kind-config-schema.js';
import { policyJsonSchema } from '../../core/policy/policy-schema.js';
import type { CommandContext } from '../command-context.js';
import { printJson } from '../io.js';
import type { Wrap } from '../program.js';

export async function schemaCommand(ctx: CommandContext): Promise<number> {
  printJson(ctx.io, withKindConfigs(policyJsonSchema(ctx.rotor.rotators), ctx.rotor.rotators));
  return 0;
}

export function registerSchema(program: Command, wrap: Wrap): void {
  program
    .command('schema')
    .description('print the JSON Schema of rotor.yaml for editors')
    .action(wrap(schemaCommand));
}
