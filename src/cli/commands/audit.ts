// `rotor audit [list] | verify | export | checkpoint`: the hash-chained audit log. `rotor audit`
// alone is `rotor audit list`. Reading commands never write to the store (verifying must not move
// the head it reports); `checkpoint` (audit-checkpoint.ts, loaded only when used) publishes one.
import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { exportAudit, parseAuditExportFormat } from '../../core/audit/audit-export.js';
import { listAudit, type AuditFilter, type AuditRecord } from '../../core/audit/audit-query.js';
import { verifyAuditChain, type AuditAnchor } from '../../core/audit/audit-verify.js';
import type { Clock } from '../../core/clock.js';
import { parseDuration } from '../../core/duration.js';
import { isRotorError, RotorError } from '../../core/errors.js';
import type { Store } from '../../core/store/open-store.js';
import { didYouMean } from '../../core/suggest.js';
import type { CommandContext } from '../command-context.js';
import { colors, formatTable, print, printJson } from '../io.js';
import type { Wrap } from '../program.js';
import { parseDateOption } from '../parse-date.js';

export interface AuditFilterOptions {
  secret?: string;
  env?: string;
  action?: string;
  since?: string;
  until?: string;
}

export interface AuditListOptions extends AuditFilterOptions {
  limit?: string;
  oldestFirst?: boolean;
}

export interface AuditVerifyOptions {
  anchor?: string;
  checkpoints?: string;
  publicKey?: string;
  full?: boolean;
  state?: string;
}

export interface AuditExportOptions extends AuditFilterOptions {
  format?: string;
  output?: string;
}

const DEFAULT_LIMIT = 50;

/**
 * Parses `--since`/`--until`: an ISO date (UTC; `--until` means the end of that day), a
 * date-time (UTC unless it has an offset), or an age such as `30d` or `12h` (that long before now).
 *
 * @example
 * parseAuditDate('--since', '2026-03-01', clock) // Date.UTC(2026, 2, 1)
 */
export function parseAuditDate(option: '--since' | '--until', value: string, clock: Clock): number {
  const text = value.trim();
  const invalid = () =>
    new RotorError(
      'ERR_ROTOR_DATE_INVALID',
      `invalid ${option} "${value}": use a date (2026-03-01), a UTC date-time (2026-03-01T12:00:00Z) or an age (30d, 12h)`,
      {
        details: { option, value },
      },
    );
  if (/^\d{4}-/.test(text))
    return parseDateOption(option, text, option === '--until' ? 'end' : 'start');
  try {
    return clock.now() - parseDuration(text);
  } catch (error) {
    if (isRotorError(error, 'ERR_ROTOR_DURATION_INVALID')) throw invalid();
    throw error;
  }
}

function parseFilter(ctx: CommandContext, options: AuditFilterOptions): AuditFilter {
  const filter: AuditFilter = {};
  if (options.secret !== undefined) filter.secret = options.secret;
  if (options.env !== undefined) filter.environment = options.env;
  if (options.action !== undefined) filter.action = options.action;
  if (options.since !== undefined)
    filter.since = parseAuditDate('--since', options.since, ctx.rotor.clock);
  if (options.until !== undefined)
    filter.until = parseAuditDate('--until', options.until, ctx.rotor.clock);
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `--since (${new Date(filter.since).toISOString()}) is after --until (${new Date(filter.until).toISOString()})`,
    );
  }
  return filter;
}

/**
 * A --secret or --env that names nothing Rotor knows (not in rotor.yaml and never in the log) is
 * a typo, not an empty result: ERR_ROTOR_SECRET_UNKNOWN / ERR_ROTOR_ENV_UNKNOWN with the closest
 * name. A secret since removed from rotor.yaml still has its history, so the log counts too.
 */
async function assertFilterNames(
  ctx: CommandContext,
  store: Store,
  filter: AuditFilter,
): Promise<void> {
  let policy: { secrets: Iterable<string>; environments: Iterable<string> } = {
    secrets: [],
    environments: [],
  };
  try {
    const p = ctx.rotor.policy();
    policy = { secrets: p.secrets.keys(), environments: p.environments };
  } catch {
    // No readable rotor.yaml: the log alone says what exists.
  }
  const checks = [
    {
      value: filter.secret,
      column: 'secret' as const,
      code: 'ERR_ROTOR_SECRET_UNKNOWN' as const,
      what: 'secret',
      option: '--secret',
      known: [...policy.secrets],
    },
    {
      value: filter.environment,
      column: 'environment' as const,
      code: 'ERR_ROTOR_ENV_UNKNOWN' as const,
      what: 'environment',
      option: '--env',
      known: [...policy.environments],
    },
  ];
  for (const check of checks) {
    if (check.value === undefined || check.known.includes(check.value)) continue;
    const logged = await store.guard(() =>
      store.db
        .selectFrom('audit_events')
        .select(check.column)
        .distinct()
        .where(check.column, 'is not', null)
        .execute(),
    );
    const names = new Set([...check.known, ...logged.map((r) => r[check.column] as string)]);
    if (names.has(check.value)) continue;
    throw new RotorError(
      check.code,
      `${check.option} ${check.value}: no ${check.what} of that name in rotor.yaml or the audit log${didYouMean(check.value, names)}`,
      { details: { [check.what]: check.value } },
    );
  }
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  if (!/^\d+$/.test(value.trim()))
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `invalid --limit "${value}": use a whole number (0 for no limit)`,
    );
  return Number(value.trim());
}

function parseAnchor(value: string): AuditAnchor {
  const m = /^(\d+):([0-9a-f]{64})$/i.exec(value.trim());
  if (!m || Number(m[1]) < 1)
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `invalid --anchor "${value}": use SEQ:HASH as printed by an earlier \`rotor audit verify\``,
    );
  return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
}

/** Terminal-safe text: no control character (or escape sequence) from a stored note reaches the screen. */
function clean(text: string, max = Infinity): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/\r\n|\r|\n/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

export async function auditListCommand(
  ctx: CommandContext,
  options: AuditListOptions,
): Promise<number> {
  const filter = parseFilter(ctx, options);
  const limit = parseLimit(options.limit);
  const store = await ctx.rotor.store();
  await assertFilterNames(ctx, store, filter);
  const events = await listAudit(store, {
    ...filter,
    limit,
    order: options.oldestFirst ? 'asc' : 'desc',
  });
  if (ctx.json) {
    printJson(ctx.io, {
      events,
      count: events.length,
      limited: limit > 0 && events.length === limit,
    });
    return 0;
  }
  if (events.length === 0) {
    print(ctx.io, 'no audit events match');
    return 0;
  }
  const c = colors(ctx.io);
  const outcome = (r: AuditRecord) =>
    r.outcome === 'failure'
      ? c.red(r.outcome)
      : r.outcome === 'success'
        ? c.green(r.outcome)
        : r.outcome;
  const rows = events.map((r) => [
    String(r.seq),
    shortTime(r.at),
    clean(r.secret ?? '-'),
    clean(r.environment ?? '-'),
    clean(r.operator, 24),
    r.method === 'emergency' ? c.red(r.method) : r.method,
    clean(r.action),
    outcome(r),
    clean(r.notes, 60),
  ]);
  print(
    ctx.io,
    formatTable(
      ['SEQ', 'TIME', 'SECRET', 'ENV', 'OPERATOR', 'METHOD', 'ACTION', 'OUTCOME', 'NOTES'],
      rows,
    ),
  );
  const order = options.oldestFirst ? 'oldest' : 'newest';
  print(
    ctx.io,
    c.dim(
      `${events.length} event(s), ${order} first${limit > 0 && events.length === limit ? ` (limited to ${limit}; --limit 0 shows all)` : ''}`,
    ),
  );
  return 0;
}

export async function auditVerifyCommand(
  ctx: CommandContext,
  options: AuditVerifyOptions,
): Promise<number> {
  if (options.checkpoints !== undefined) {
    if (options.anchor !== undefined)
      throw new RotorError(
        'ERR_ROTOR_CLI_USAGE',
        '--anchor and --checkpoints do not mix: checkpoints are signed anchors',
      );
    const { auditVerifyCheckpointsCommand } = await import('./audit-checkpoint.js');
    return auditVerifyCheckpointsCommand(ctx, { ...options, checkpoints: options.checkpoints });
  }
  for (const flag of ['publicKey', 'full', 'state'] as const)
    if (options[flag] !== undefined)
      throw new RotorError(
        'ERR_ROTOR_CLI_USAGE',
        `--${flag === 'publicKey' ? 'public-key' : flag} goes with --checkpoints <dir|url>`,
      );
  const anchor = options.anchor === undefined ? undefined : parseAnchor(options.anchor);
  const store = await ctx.rotor.store();
  const result = await verifyAuditChain(store, anchor ? { anchor } : {});
  if (ctx.json) {
    printJson(ctx.io, {
      ...result,
      ...(result.ok
        ? {}
        : { error: { code: 'ERR_ROTOR_AUDIT_CHAIN_BROKEN', message: result.firstBad?.message } }),
      note: 'deleting the newest rows cannot be detected from the chain alone: keep headSeq and headHash elsewhere and pass them back with --anchor SEQ:HASH',
    });
    return result.ok ? 0 : 1;
  }
  const c = colors(ctx.io);
  if (result.ok) {
    print(ctx.io, `${c.green('audit log intact:')} ${result.rows} row(s) checked`);
    print(ctx.io, `head: row ${result.headSeq}, hash ${result.headHash}`);
    if (anchor) print(ctx.io, `anchor row ${anchor.seq} matches`);
    print(
      ctx.io,
      c.dim(
        `Deleting the newest rows leaves a shorter chain that still verifies: keep "${result.headSeq}:${result.headHash}" outside this machine and check it later with --anchor.`,
      ),
    );
    return 0;
  }
  const bad = result.firstBad!;
  print(ctx.io, `${c.red('audit log TAMPERED:')} first bad row ${bad.seq} (${bad.problem})`);
  print(ctx.io, bad.message);
  print(
    ctx.io,
    `${result.rows} row(s) intact before it; last intact: row ${result.headSeq}, hash ${result.headHash}`,
  );
  return 1;
}

export async function auditExportCommand(
  ctx: CommandContext,
  options: AuditExportOptions,
): Promise<number> {
  const format = parseAuditExportFormat(options.format ?? (ctx.json ? 'json' : 'md'));
  const filter = parseFilter(ctx, options);
  const store = await ctx.rotor.store();
  await assertFilterNames(ctx, store, filter);
  if (options.output === undefined) {
    await exportAudit(store, ctx.io.stdout, { format, filter });
    return 0;
  }
  // Written beside the target and renamed at the end, so a failed export never leaves half a file.
  const target = resolve(ctx.io.cwd, options.output);
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  const file = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
  let rows: number;
  try {
    await once(file, 'open');
    ({ rows } = await exportAudit(store, file, { format, filter }));
    file.end();
    await once(file, 'finish');
    renameSync(temp, target);
  } catch (error) {
    file.destroy();
    rmSync(temp, { force: true });
    if (isRotorError(error)) throw error;
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `cannot write ${options.output}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (ctx.json) printJson(ctx.io, { format, output: target, rows });
  else print(ctx.io, `exported ${rows} audit event(s) as ${format} to ${options.output}`);
  return 0;
}

function filterOptions(command: Command): Command {
  return command
    .option('--secret <name>', 'only this secret')
    .option('-e, --env <environment>', 'only this environment')
    .option(
      '--action <action>',
      'only this action (a prefix before a dot also matches: rotate → rotate.promote)',
    )
    .option(
      '--since <when>',
      'from this date, UTC date-time or age (2026-03-01, 2026-03-01T12:00:00Z, 30d)',
    )
    .option('--until <when>', 'up to this date (inclusive: the whole day), UTC date-time or age');
}

function listOptions(command: Command): Command {
  return filterOptions(command)
    .option('--limit <n>', `at most this many events (default ${DEFAULT_LIMIT}; 0 for all)`)
    .option('--oldest-first', 'chronological order (default: newest first)')
    .option('--json', 'machine-readable output');
}

export function registerAudit(program: Command, wrap: Wrap): void {
  const audit = listOptions(
    program
      .command('audit')
      .description('the tamper-evident audit log: list (default), verify, export, checkpoint'),
  ).action(wrap(auditListCommand));
  listOptions(
    audit.command('list').description('show audit events as a table, newest first'),
  ).action(wrap(auditListCommand));
  audit
    .command('verify')
    .description(
      'recompute the hash chain; exit 1 naming the first edited, deleted, inserted or reordered row',
    )
    .option('--anchor <seq:hash>', 'a head recorded earlier (also catches deleted newest rows)')
    .option(
      '--checkpoints <dir|url>',
      'check against signed checkpoints (catches a rewritten chain and a cut tail); incremental',
    )
    .option('--public-key <file>', 'the Ed25519 public key (PEM) the checkpoints are signed with')
    .option('--full', 'with --checkpoints: check every checkpoint and recompute the whole chain')
    .option('--state <file>', 'with --checkpoints: a verified-state file to start from and update')
    .option('--json', 'machine-readable output')
    .action(wrap(auditVerifyCommand));
  const checkpoint = audit
    .command('checkpoint')
    .description('sign the chain head and publish it to audit.checkpoints.to (rotor.yaml) now')
    .option('--json', 'machine-readable output')
    .action(
      wrap(async (ctx) => (await import('./audit-checkpoint.js')).auditCheckpointCommand(ctx)),
    );
  checkpoint
    .command('keygen')
    .description('write a new Ed25519 signing key (mode 0600) and its public key (FILE.pub)')
    .option('--out <file>', 'where to write the private key')
    .option('--json', 'machine-readable output')
    .action(
      wrap(async (ctx, options: { out?: string }) =>
        (await import('./audit-checkpoint.js')).auditCheckpointKeygenCommand(ctx, options),
      ),
    );
  filterOptions(
    audit
      .command('export')
      .description('write the audit log, oldest first, as md (the runbook table), csv or json'),
  )
    .option('--format <format>', 'md | csv | json (default md)')
    .option('--output <file>', 'write to this file (mode 0600) instead of stdout')
    .option('--json', 'a JSON summary when writing to --output (and json format by default)')
    .action(wrap(auditExportCommand));
}
