// Writes test/setup/file-durations.json (read by test/setup/duration-sequencer.ts) from a vitest
// JSON report of a full run: each test file's duration in seconds, longest first.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

const report = process.argv[2];
if (!report) {
  process.stderr.write('usage: npm run test:durations -- REPORT.json\n');
  process.exit(2);
}
let testResults;
try {
  ({ testResults } = JSON.parse(readFileSync(report, 'utf8')));
} catch (error) {
  process.stderr.write(`test:durations: cannot read ${report}: ${error.message}\n`);
  process.exit(2);
}
if (!Array.isArray(testResults) || testResults.length === 0) {
  process.stderr.write(`test:durations: ${report} is not a vitest JSON report of a run\n`);
  process.exit(2);
}
const rows = testResults
  .map((t) => [relative(resolve('.'), t.name), Math.round((t.endTime - t.startTime) / 100) / 10])
  .sort((a, b) => b[1] - a[1]);
writeFileSync(
  'test/setup/file-durations.json',
  `${JSON.stringify(Object.fromEntries(rows), null, 2)}\n`,
);
process.stdout.write(`test/setup/file-durations.json: ${rows.length} files\n`);
