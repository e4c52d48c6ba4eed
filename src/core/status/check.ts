// Turns a status report into a monitoring-plugin result (Nagios, Icinga…): one exit code, one
// summary line, the problem rows after it; the mapping: docs/status.md.
import { formatDuration } from '../duration.js';
import type { StatusReport, StatusRow } from './status.js';

export const PLUGIN_CODES = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type PluginStatus = keyof typeof PLUGIN_CODES;

/** Worst first: the order in which statuses win. */
export const PLUGIN_PRECEDENCE: readonly PluginStatus[] = ['CRITICAL', 'WARNING', 'UNKNOWN', 'OK'];

export const PROBLEMS = [
  'overdue',
  'failed',
  'stuck',
  'not-revoked',
  'sessions-held',
  'due',
  'due-soon',
  'retire-postponed',
  'outside-rotation',
  'unproven',
  'unknown',
] as const;
export type Problem = (typeof PROBLEMS)[number];
/** The problems every check result counts, even at 0 (the JSON shape monitoring parses). */
type CoreProblem = 'overdue' | 'failed' | 'stuck' | 'due' | 'due-soon' | 'unknown';

const PROBLEM_STATUS: Record<Problem, PluginStatus> = {
  overdue: 'CRITICAL',
  failed: 'CRITICAL',
  stuck: 'CRITICAL',
  'not-revoked': 'CRITICAL',
  'sessions-held': 'CRITICAL',
  'retire-postponed': 'WARNING',
  'outside-rotation': 'WARNING',
  unproven: 'WARNING',
  due: 'WARNING',
  'due-soon': 'WARNING',
  unknown: 'UNKNOWN',
};

/** How each problem is said, in check's summary and in status's (one vocabulary). */
export const PROBLEM_LABEL: Record<Problem, string> = {
  overdue: 'overdue',
  failed: 'failed',
  stuck: 'stuck rotation',
  'not-revoked': 'retired credential still valid',
  'sessions-held': 'retire held by sessions',
  'retire-postponed': 'retire postponed',
  'outside-rotation': 'credential outside rotation',
  unproven: 'revocation unproven',
  due: 'due',
  'due-soon': 'due soon',
  unknown: 'unknown',
};

/** Long-output lines after the summary; the summary and the counts always cover every row. */
export const MAX_DETAIL_LINES = 100;

export interface CheckProblem {
  secret: string;
  environment: string;
  problem: Problem;
  status: PluginStatus;
  detail: string;
}

export interface CheckResult {
  status: PluginStatus;
  code: (typeof PLUGIN_CODES)[PluginStatus];
  /** The one-line plugin output: `ROTOR CRITICAL - 2 overdue, 1 failed; WARNING - 3 due soon | perfdata`. */
  summary: string;
  /** Always the cadence/rotation problems; credential problems (retire) only when present. */
  counts: Partial<Record<Problem, number>> &
    Record<CoreProblem, number> & { ok: number; rows: number };
  problems: CheckProblem[];
}

/** The worse of two plugin statuses. */
export function worstStatus(a: PluginStatus, b: PluginStatus): PluginStatus {
  return PLUGIN_PRECEDENCE.indexOf(a) <= PLUGIN_PRECEDENCE.indexOf(b) ? a : b;
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The plugin status of one problem. */
export function problemStatus(problem: Problem): PluginStatus {
  return PROBLEM_STATUS[problem];
}

/** One problem of a row in words, as the check's long output says it. */
export function problemDetail(row: StatusRow, problem: Problem): string {
  return describe(row, problem);
}

function describe(row: StatusRow, problem: Problem): string {
  switch (problem) {
    case 'overdue':
      return `overdue since ${isoDay(row.overdueAt!)} (age ${formatDuration(row.ageMs!)})`;
    case 'due':
      return `due since ${isoDay(row.nextDueAt!)} (age ${formatDuration(row.ageMs!)})`;
    case 'due-soon':
      return `due on ${isoDay(row.nextDueAt!)} (age ${formatDuration(row.ageMs!)})`;
    case 'failed':
      return `rotation ${row.rotation!.id} ${row.rotation!.state === 'rolled_back' ? 'was interrupted and rolled back' : 'failed'} at ${row.rotation!.step}${row.rotation!.errorCode ? ` (${row.rotation!.errorCode})` : ''}`;
    case 'stuck':
      return `rotation ${row.rotation!.id} stuck at ${row.rotation!.step} since ${new Date(row.rotation!.updatedAt).toISOString()}: run \`rotor resume\``;
    case 'unknown':
      return row.currentSince === null ? 'no current version' : 'last rotation date unknown';
    default:
      return row.alerts
        .filter((a) => a.problem === problem)
        .map((a) => a.detail)
        .join(' | ');
  }
}

/** The problems of one row, worst first. */
export function rowProblems(row: StatusRow): Problem[] {
  const found: Problem[] = [];
  if (row.ageState === 'overdue') found.push('overdue');
  if (row.state === 'failed') found.push('failed');
  if (row.rotation?.stuck) found.push('stuck');
  if (row.ageState === 'due') found.push('due');
  if (row.ageState === 'due-soon') found.push('due-soon');
  if (row.ageState === 'unknown') found.push('unknown');
  for (const a of row.alerts) if (!found.includes(a.problem)) found.push(a.problem);
  return found;
}

interface Tally {
  counts: CheckResult['counts'];
  /** One bucket per plugin status keeps the problems worst-first without a sort. */
  buckets: Record<PluginStatus, CheckProblem[]>;
  status: PluginStatus;
}

/** Counts each row's problems and files them under their plugin status. */
function tally(report: StatusReport): Tally {
  const counts: CheckResult['counts'] = {
    overdue: 0,
    failed: 0,
    stuck: 0,
    due: 0,
    'due-soon': 0,
    unknown: 0,
    ok: 0,
    rows: report.rows.length,
  };
  const buckets: Tally['buckets'] = { CRITICAL: [], WARNING: [], UNKNOWN: [], OK: [] };
  let status: PluginStatus = 'OK';
  for (const row of report.rows) {
    const found = rowProblems(row);
    if (found.length === 0) counts.ok++;
    for (const problem of found) {
      counts[problem] = (counts[problem] ?? 0) + 1;
      const problemStatus = PROBLEM_STATUS[problem];
      status = worstStatus(status, problemStatus);
      buckets[problemStatus].push({
        secret: row.secret,
        environment: row.environment,
        problem,
        status: problemStatus,
        detail: describe(row, problem),
      });
    }
  }
  if (report.rows.length === 0) status = 'UNKNOWN';
  return { counts, buckets, status };
}

/** The text before the `|`: the counts per section, the worst section without its label. */
function checkText(report: StatusReport, tallied: Tally, asOf: string | undefined): string {
  const { counts, status } = tallied;
  const sections: string[] = [];
  for (const section of PLUGIN_PRECEDENCE) {
    const parts = PROBLEMS.filter((p) => PROBLEM_STATUS[p] === section && (counts[p] ?? 0) > 0).map(
      (p) => `${counts[p]} ${PROBLEM_LABEL[p]}`,
    );
    if (parts.length > 0)
      sections.push(`${section === status ? '' : `${section} - `}${parts.join(', ')}`);
  }
  let text: string;
  if (report.rows.length === 0) text = 'no secrets in the store (run `rotor apply`)';
  else if (sections.length === 0)
    text = `${counts.ok} of ${counts.rows} secret×environment rows ok`;
  else text = sections.join('; ');
  return asOf ? `${text} (as of ${asOf})` : text;
}

/** The plugin performance data after the `|`. */
function perfData(report: StatusReport, counts: CheckResult['counts']): string {
  const s = report.summary;
  return [
    `rows=${counts.rows}`,
    `ok=${counts.ok}`,
    `due_soon=${counts['due-soon']}`,
    `due=${counts.due}`,
    `overdue=${counts.overdue}`,
    `failed=${counts.failed}`,
    `stuck=${counts.stuck}`,
    `rotating=${s.byState.rotating}`,
    `unknown=${counts.unknown}`,
    `in_grace=${s.inGrace}`,
  ].join(' ');
}

/**
 * Evaluates a status report as a monitoring check.
 *
 * @example
 * const result = evaluateCheck(await computeStatus(store, { now }));
 * process.exitCode = result.code; // 2 when anything is overdue
 */
export function evaluateCheck(report: StatusReport, options: { asOf?: string } = {}): CheckResult {
  const tallied = tally(report);
  const { counts, buckets, status } = tallied;
  const text = checkText(report, tallied, options.asOf);
  return {
    status,
    code: PLUGIN_CODES[status],
    summary: `ROTOR ${status} - ${text} | ${perfData(report, counts)}`,
    counts,
    problems: PLUGIN_PRECEDENCE.flatMap((p) => buckets[p]),
  };
}

/** The long output: one line per problem, worst first, capped at MAX_DETAIL_LINES. */
export function checkDetailLines(result: CheckResult, max = MAX_DETAIL_LINES): string[] {
  const lines = result.problems
    .slice(0, max)
    .map((p) => `${p.status}: ${p.secret}/${p.environment} ${p.detail}`);
  if (result.problems.length > max)
    lines.push(`… and ${result.problems.length - max} more: run \`rotor status\``);
  return lines;
}
