// `rotor status`: every secret × environment with its age, due dates, grace window and state,
// read from the store. Built for 100k rows: cells are formatted once (dates through a per-day
// cache), widths found in the same pass, and the table written in large chunks; colour only on a
// terminal. `--json` streams one row object per line inside a valid JSON document.
import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import { differsFromApplied, POLICY_DIGEST } from '../../core/apply/policy-digest.js';
import type { Rotor } from '../../core/context.js';
import {
  evaluateCheck,
  PROBLEM_LABEL,
  PROBLEMS,
  problemDetail,
  problemStatus,
  rowProblems,
} from '../../core/status/check.js';
import { iso, statusRowJson as rowJson } from '../../core/status/status-json.js';
import {
  computeStatus,
  computeStatusFrom,
  type StatusOptions as StatusQuery,
  type StatusReport,
  type StatusRow,
  type StatusState,
} from '../../core/status/status.js';
import { sqliteStatusQueries } from '../../core/status/status-sqlite.js';
import type { CommandContext } from '../command-context.js';
import { colors, type CliIo } from '../io.js';
import { parseDateOption } from '../parse-date.js';
import type { Wrap } from '../program.js';

export interface StatusOptions {
  secret?: string;
  env?: string;
  at?: string;
}

/** Lines per write call: large enough that writing is never the bottleneck. */
const LINES_PER_WRITE = 4096;

/** Writes lines in chunks of one write call each, waiting for 'drain' when the stream asks. */
export async function writeLines(stream: CliIo['stdout'], lines: Iterable<string>): Promise<void> {
  let chunk: string[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const text = `${chunk.join('\n')}\n`;
    chunk = [];
    if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', resolve));
  };
  for (const line of lines) {
    chunk.push(line);
    if (chunk.length >= LINES_PER_WRITE) await flush();
  }
  await flush();
}

export async function writeStatusJson(io: CliIo, report: StatusReport): Promise<void> {
  const head = `{\n  "at": ${JSON.stringify(iso(report.at))},\n  "summary": ${JSON.stringify(report.summary)},\n  "rows": [`;
  const rows = report.rows;
  function* lines(): Generator<string> {
    yield head;
    for (let i = 0; i < rows.length; i++)
      yield `    ${JSON.stringify(rowJson(rows[i]!))}${i < rows.length - 1 ? ',' : ''}`;
    yield '  ]\n}';
  }
  await writeLines(io.stdout, lines());
}

const HEADERS = [
  'SECRET',
  'ENV',
  'STATE',
  'AGE',
  'CURRENT SINCE',
  'NEXT DUE',
  'OVERDUE FROM',
  'GRACE UNTIL',
  'ROTATION',
  'OWNER',
] as const;

/** Formats dates through a cache: most rows share a handful of days. */
function dateFormatter(withTime: boolean): (ms: number | null) => string {
  const cache = new Map<number, string>();
  const bucket = withTime ? 60_000 : 86_400_000;
  return (ms) => {
    if (ms === null) return '-';
    const key = Math.floor(ms / bucket);
    let text = cache.get(key);
    if (text === undefined) {
      const s = new Date(key * bucket).toISOString();
      text = withTime ? `${s.slice(0, 10)} ${s.slice(11, 16)}Z` : s.slice(0, 10);
      cache.set(key, text);
    }
    return text;
  };
}

function rotationCell(row: StatusRow, now: number): string {
  const r = row.rotation;
  if (!r || r.state === 'succeeded') return '';
  if (r.state === 'running')
    return r.stuck
      ? `stuck at ${r.step} for ${formatDuration(now - r.updatedAt)}`
      : `running ${r.step}`;
  if (r.state === 'waiting')
    return `standby until ${r.promoteAfter === null ? '-' : new Date(r.promoteAfter).toISOString()}`;
  const what = r.state === 'rolled_back' ? 'rolled back' : 'failed';
  return `${what} at ${r.step}${r.errorCode ? ` ${r.errorCode}` : ''}`;
}

/**
 * The plain-text table, with the state column coloured by `paint` (identity off a terminal).
 * Two passes over the rows: the first finds the column widths, the second yields the lines one
 * at a time, so no array of 100k formatted lines is ever held (cell text is cached per day).
 */
export function statusTableLines(
  report: StatusReport,
  now: number,
  paint: (state: StatusState, padded: string) => string,
): Iterable<string> {
  const day = dateFormatter(false);
  const minute = dateFormatter(true);
  const ages = new Map<number, string>();
  const ageText = (ms: number | null): string => {
    if (ms === null) return '-';
    const days = Math.floor(ms / 86_400_000);
    // Ages of a day or more are shared between rows; shorter ones are rare.
    if (days < 1) return formatDuration(ms);
    let text = ages.get(days);
    if (text === undefined) ages.set(days, (text = formatDuration(ms)));
    return text;
  };
  const cellsOf = (row: StatusRow): string[] => [
    row.secret,
    row.environment,
    row.state,
    ageText(row.ageMs),
    day(row.rotatedAt),
    day(row.nextDueAt),
    day(row.overdueAt),
    row.graceUntil === null ? '' : minute(row.graceUntil),
    rotationCell(row, now),
    row.owner ?? '',
  ];
  const widths: number[] = HEADERS.map((h) => h.length);
  for (const row of report.rows) {
    const r = cellsOf(row);
    for (let c = 0; c < r.length; c++) if (r[c]!.length > widths[c]!) widths[c] = r[c]!.length;
  }
  const last = HEADERS.length - 1;
  const line = (r: readonly string[], state?: StatusState): string => {
    let out = '';
    for (let c = 0; c < last; c++) {
      const padded = r[c]!.padEnd(widths[c]!);
      out += (c === 2 && state ? paint(state, padded) : padded) + '  ';
    }
    return (out + r[last]).trimEnd();
  };
  function* lines(): Generator<string> {
    yield line(HEADERS);
    for (const row of report.rows) yield line(cellsOf(row), row.state);
  }
  return lines();
}

/**
 * The summary under the table, counted exactly as `rotor check` counts (evaluateCheck): a row
 * is ok when it has no problem, so a row in its grace window or mid-rotation is ok there too,
 * and said again after the counts.
 */
export function summaryLine(report: StatusReport): string {
  const s = report.summary;
  const { counts } = evaluateCheck(report);
  const problems = PROBLEMS.filter((p) => (counts[p] ?? 0) > 0).map(
    (p) => `${counts[p]} ${PROBLEM_LABEL[p]}`,
  );
  const parts = [`${counts.ok} ok`, ...problems];
  const extra = [
    s.inGrace > 0 ? `${s.inGrace} with a grace window open` : '',
    s.byState.rotating > 0 ? `${s.byState.rotating} rotating` : '',
    s.stuck > 0 ? `run \`rotor resume\` for the stuck rotation${s.stuck > 1 ? 's' : ''}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return `${s.total} secret×environment row${s.total === 1 ? '' : 's'}: ${parts.join(', ')}${extra ? `; ${extra}` : ''} (at ${new Date(report.at).toISOString()})`;
}

/**
 * The status from the store, and whether rotor.yaml has changed since the last apply: on the
 * synchronous SQLite path where the Rotor has one, else through the store's Kysely queries.
 */
export async function storeStatus(
  rotor: Rotor,
  query: StatusQuery,
): Promise<{ report: StatusReport; unapplied: () => Promise<boolean> }> {
  const reads = await rotor.reads();
  if (reads) {
    const report = await computeStatusFrom(sqliteStatusQueries(reads), query);
    const applied = reads.get<{ value: string }>(
      'SELECT value FROM meta WHERE key = ?',
      POLICY_DIGEST,
    )?.value;
    return { report, unapplied: async () => differsFromApplied(rotor.policyFile, applied) };
  }
  const store = await rotor.store();
  const report = await store.guard(() => computeStatus(store, query));
  return {
    report,
    unapplied: async () => {
      const { policyHasUnappliedChanges } = await import('../../core/apply/apply-policy.js');
      return policyHasUnappliedChanges(store, rotor.policyFile);
    },
  };
}

export async function statusCommand(ctx: CommandContext, options: StatusOptions): Promise<number> {
  const { rotor } = ctx;
  const now = rotor.clock.now();
  const at = options.at === undefined ? now : parseDateOption('--at', options.at, 'end');
  const { report, unapplied } = await storeStatus(rotor, {
    now,
    at,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
    ...(options.env === undefined ? {} : { environment: options.env }),
  });
  if (await unapplied()) {
    ctx.io.stderr.write(
      `rotor: warning: ${rotor.policyFile} has changed since the last \`rotor apply\`; this status reflects what was applied\n`,
    );
  }
  if (ctx.json) {
    await writeStatusJson(ctx.io, report);
    return 0;
  }
  if (report.rows.length === 0) {
    await writeLines(ctx.io.stdout, [
      'no secrets in the store: run `rotor apply` to load rotor.yaml',
    ]);
    return 0;
  }
  const c = colors(ctx.io);
  const palette: Record<StatusState, (s: string) => string> = {
    ok: c.green,
    'due-soon': c.yellow,
    due: (s) => c.bold(c.yellow(s)),
    overdue: (s) => c.bold(c.red(s)),
    unknown: c.magenta,
    'in-grace': c.cyan,
    rotating: c.blue,
    failed: (s) => c.bold(c.red(s)),
  };
  const plain = !c.isColorSupported;
  const table = statusTableLines(
    report,
    now,
    plain ? (_state, padded) => padded : (state, padded) => palette[state](padded),
  );
  function* lines(): Generator<string> {
    yield* table;
    yield '';
    yield summaryLine(report);
    // Standing advice of the kinds shown (the runbook prefers IAM roles to rotated keys).
    const byKind = new Map<string, Set<string>>();
    for (const row of report.rows)
      byKind.set(row.kind, (byKind.get(row.kind) ?? new Set()).add(row.secret));
    for (const [kind, secrets] of byKind) {
      const note = ctx.rotor.rotators.find((r) => r.kind === kind)?.statusNote;
      if (note) yield `note: ${[...secrets].join(', ')} (${kind}): ${note}`;
    }
    // Credentials retire could not end (or kept on purpose): said in words, not only in a state.
    for (const row of report.rows) {
      for (const problem of rowProblems(row)) {
        if (!row.alerts.some((x) => x.problem === problem)) continue;
        yield `${problemStatus(problem)}: ${row.secret}/${row.environment} ${problemDetail(row, problem)}`;
      }
    }
  }
  await writeLines(ctx.io.stdout, lines());
  return 0;
}

export function registerStatus(program: Command, wrap: Wrap): void {
  program
    .command('status')
    .description(
      'every secret × environment: age, next due, grace window and state, from the store',
    )
    .option('--secret <name>', 'only this secret')
    .option(
      '-e, --env <environment>',
      'only this environment (plus rows for every environment, `*`)',
    )
    .option('--at <date>', 'evaluate at this ISO date or date-time instead of now')
    .option('--json', 'machine-readable output')
    .action(wrap(statusCommand));
}
