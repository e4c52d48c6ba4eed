// Every command, in help order: its name, the arguments and summary shown by `rotor --help`, and
// how to load its registration. A command's module (and everything it imports) is loaded only
// when that command runs, so `rotor --version` or `rotor status` never pay for the server, the
// database drivers or the mailer. A new command is a file plus one line here.
import type { Command } from 'commander';
import type { Wrap } from '../command-tree.js';
import { commandWord } from '../command-word.js';

export type Register = (program: Command, wrap: Wrap) => void;

export interface CommandEntry {
  name: string;
  /** Arguments as `rotor --help` lists them (`<name>`, `[name]`, `<command...>`), if any. */
  args?: string;
  /** Whether the command takes options (shown as `[options]` in the overview). */
  options: boolean;
  summary: string;
  load(): Promise<Register>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'init',
    options: true,
    summary: "write rotor.yaml with the runbook's inventory and create the store and master key",
    load: async () => (await import('./init.js')).registerInit,
  },
  {
    name: 'apply',
    options: true,
    summary: 'load rotor.yaml into the store (idempotent; shows what changes)',
    load: async () => (await import('./apply.js')).registerApply,
  },
  {
    name: 'import',
    args: '<name>',
    options: true,
    summary:
      'adopt a value already in use as the first version (from stdin, --from-file, or a hidden prompt)',
    load: async () => (await import('./import.js')).registerImport,
  },
  {
    name: 'status',
    options: true,
    summary: 'every secret × environment: age, next due, grace window and state, from the store',
    load: async () => (await import('./status.js')).registerStatus,
  },
  {
    name: 'check',
    options: true,
    summary:
      'monitoring-plugin check: exit 0 OK, 1 WARNING (due soon, due), 2 CRITICAL (overdue, failed or stuck rotation), 3 UNKNOWN',
    load: async () => (await import('./check.js')).registerCheck,
  },
  {
    name: 'rotate',
    args: '<name>',
    options: true,
    summary: 'rotate a secret (create → apply → verify → promote), staging first',
    load: async () => (await import('./rotate.js')).registerRotate,
  },
  {
    name: 'resume',
    options: true,
    summary: 'finish (after verify) or roll back (before it) interrupted rotations',
    load: async () => (await import('./resume.js')).registerResume,
  },
  {
    name: 'retire',
    args: '[name]',
    options: true,
    summary: 'retire previous versions whose grace window has passed',
    load: async () => (await import('./retire.js')).registerRetire,
  },
  {
    name: 'scheduler',
    options: true,
    summary:
      'rotate what is due inside its maintenance window, retire ended grace windows, finish interrupted rotations, send reminders',
    load: async () => (await import('./scheduler.js')).registerScheduler,
  },
  {
    name: 'db',
    options: false,
    summary: 'database secrets: first-time setup on an existing database',
    load: async () => (await import('./db.js')).registerDb,
  },
  {
    name: 'sessions',
    options: false,
    summary: "revoke the app's sessions and refresh tokens (rotor/tokens)",
    load: async () => (await import('./sessions.js')).registerSessions,
  },
  {
    name: 'get',
    args: '<name>',
    options: true,
    summary:
      'print one secret value (refuses a terminal without --reveal; no trailing newline when piped)',
    load: async () => (await import('./get.js')).registerGet,
  },
  {
    name: 'jwks',
    args: '<name>',
    options: true,
    summary: 'print the public JWK Set (standby, current, previous) of an asymmetric signing key',
    load: async () => (await import('./jwks.js')).registerJwks,
  },
  {
    name: 'run',
    args: '<command...>',
    options: true,
    summary:
      "run a command with an environment's values injected (NAME, and NAME_PREVIOUS during a grace window)",
    load: async () => (await import('./run.js')).registerRun,
  },
  {
    name: 'export',
    options: true,
    summary:
      "print (or write) an environment's values: NAME, and NAME_PREVIOUS during a grace window",
    load: async () => (await import('./export.js')).registerExport,
  },
  {
    name: 'audit',
    options: true,
    summary: 'the tamper-evident audit log: list (default), verify, export, checkpoint',
    load: async () => (await import('./audit.js')).registerAudit,
  },
  {
    name: 'master-key',
    options: false,
    summary: "manage Rotor's own master key",
    load: async () => (await import('./master-key.js')).registerMasterKey,
  },
  {
    name: 'store',
    options: false,
    summary: "manage Rotor's own store",
    load: async () => (await import('./store.js')).registerStore,
  },
  {
    name: 'operator',
    options: false,
    summary: 'local accounts for the dashboard (argon2id password + TOTP)',
    load: async () => (await import('./operator.js')).registerOperator,
  },
  {
    name: 'token',
    options: false,
    summary: 'API tokens for `rotor serve`: create (shown once), list, revoke',
    load: async () => (await import('./token.js')).registerToken,
  },
  {
    name: 'serve',
    options: true,
    summary: 'run the HTTP API (bearer API tokens; see `rotor token create`)',
    load: async () => (await import('./serve.js')).registerServe,
  },
  {
    name: 'schema',
    options: false,
    summary: 'print the JSON Schema of rotor.yaml for editors',
    load: async () => (await import('./schema.js')).registerSchema,
  },
  {
    name: 'completion',
    args: '<shell>',
    options: false,
    summary: 'print the shell completion script for bash, zsh or fish',
    load: async () => (await import('./completion.js')).registerCompletion,
  },
  {
    name: 'demo',
    options: true,
    summary: 'a real session in a scratch directory: inventory, adoption, rotation, status, audit',
    load: async () => (await import('./demo.js')).registerDemo,
  },
];

/**
 * The command an argv names (`rotor --config x.yaml status --json` → `status`; `rotor help
 * rotate` → `rotate`), or undefined when it names none or an unknown one.
 */
export function commandNamed(argv: readonly string[]): CommandEntry | undefined {
  const name = commandWord(argv);
  return COMMANDS.find((entry) => entry.name === name);
}
