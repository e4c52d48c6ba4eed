// `rotor demo`: a guided, real session in a scratch directory: init, apply, adopt existing
// secrets with their real ages, rotate the self-contained ones, then status, check, run and
// audit. Every step is the actual command, printed as an operator would type it.
import { mkdtempSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import { colors, print } from '../io.js';
import type { Wrap } from '../program.js';

const DAY = 86_400_000;

export async function demoCommand(ctx: CommandContext, options: { dir?: string }): Promise<number> {
  const { io } = ctx;
  const c = colors(io);
  const dir = options.dir
    ? resolve(io.cwd, options.dir)
    : mkdtempSync(join(tmpdir(), 'rotor-demo-'));
  if (options.dir) {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      throw new RotorError(
        'ERR_ROTOR_CLI_USAGE',
        `${dir} is not empty: the demo needs an empty or new directory`,
      );
    }
    mkdirSync(dir, { recursive: true });
  }
  // Loaded lazily: the demo drives the same CLI it belongs to.
  const { runCli } = await import('../program.js');
  const env: NodeJS.ProcessEnv = { ...io.env, ROTOR_OPERATOR: ctx.actor.operator };
  delete env.ROTOR_MASTER_KEY;
  delete env.ROTOR_CONFIG;
  delete env.ROTOR_STATE_DIR;
  delete env.ROTOR_DATABASE_URL;
  delete env.ROTOR_STORE_URL;
  const step = async (title: string, args: string[], stdin?: string): Promise<number> => {
    print(io);
    if (title) print(io, c.dim(`# ${title}`));
    print(
      io,
      `${c.bold('$')} rotor ${args.map((a) => (/[\s"'$]/.test(a) ? `'${a}'` : a)).join(' ')}${stdin === undefined ? '' : c.dim('   < value on stdin')}`,
    );
    const input = new PassThrough() as PassThrough & { isTTY?: boolean };
    input.isTTY = false;
    input.end(stdin ?? '');
    const code = await runCli(args, { io: { ...io, stdin: input, env, cwd: dir } });
    if (code !== 0) print(io, c.dim(`(exit ${code})`));
    return code;
  };
  const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString().slice(0, 10);
  const secretLike = (bytes: number) => randomBytes(bytes).toString('base64url');

  print(io, c.bold(`Rotor demo in ${dir}`));
  print(io, 'Every value below is generated on the spot; none is ever printed.');
  await step("write rotor.yaml with the runbook's inventory, a store and a master key", ['init']);
  await step('load the policy into the store', ['apply']);
  // Secrets already in use, adopted with their real last-rotation dates.
  const adopted: [secret: string, env: string, ageDays: number, value: string][] = [
    ['SMTP_PASSWORD', 'production', 170, secretLike(24)],
    ['DATABASE_URL', 'production', 200, `postgres://app:${secretLike(18)}@db.internal:5432/app`],
    ['S3_SECRET_ACCESS_KEY', 'production', 400, secretLike(30)],
    ['SMTP_PASSWORD', 'staging', 30, secretLike(24)],
    ['DATABASE_URL', 'staging', 60, `postgres://app:${secretLike(18)}@db.staging:5432/app`],
  ];
  for (const [i, [secret, env, ageDays, value]] of adopted.entries()) {
    const title =
      i === 0 ? 'adopt secrets already in use, with their real last-rotation dates' : '';
    const args = ['import', secret, '--env', env, '--rotated-at', daysAgo(ageDays)];
    await step(title, args, value);
  }
  await step(
    'a value whose age nobody knows shows as unknown until its first rotation',
    ['import', 'TWILIO_AUTH_TOKEN', '--env', 'production'],
    secretLike(24),
  );
  await step('rotate the JWT access secret: staging first, then production, with a grace window', [
    'rotate',
    'JWT_ACCESS_SECRET',
  ]);
  await step('rotate it again: the previous key stays valid for its grace window', [
    'rotate',
    'JWT_ACCESS_SECRET',
    '--env',
    'production',
  ]);
  await step('rotate the refresh secret and the metrics token', ['rotate', 'JWT_REFRESH_SECRET']);
  await step('', ['rotate', 'METRICS_AUTH_TOKEN']);
  await step('the whole inventory at a glance', ['status']);
  await step('monitoring: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN', ['check']);
  await step('what will be due in 100 days?', ['check', '--at', daysAgo(-100)]);
  await step('inject secrets into a process (it prints names and lengths, never values)', [
    'run',
    '--env',
    'production',
    '--',
    process.execPath,
    '-e',
    "for (const k of Object.keys(process.env).filter((k) => /^(JWT|METRICS|SMTP|DATABASE)_/.test(k)).sort()) console.log(k.padEnd(28), process.env[k].length + ' chars')",
  ]);
  await step('the tamper-evident audit log', ['audit', 'list', '--limit', '8']);
  await step('prove nobody edited it', ['audit', 'verify']);
  print(io);
  const project = `--config ${join(dir, 'rotor.yaml')} --state-dir ${join(dir, '.rotor')}`;
  print(io, `Done. Explore further with:  npx rotor ${project} status`);
  print(
    io,
    `Or run the server (API, dashboard, scheduler):  npx rotor ${project} operator add you  &&  npx rotor ${project} serve`,
  );
  return 0;
}

export function registerDemo(program: Command, wrap: Wrap): void {
  program
    .command('demo')
    .description(
      'a real session in a scratch directory: inventory, adoption, rotation, status, audit',
    )
    .option('--dir <dir>', 'use this (empty or new) directory instead of a temporary one')
    .action(wrap(demoCommand));
}
