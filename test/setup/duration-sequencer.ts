// Starts the longest test files first. With a few workers sharing two cores, a long file that
// starts late stretches the run's tail while the other workers sit idle. vitest orders by the
// durations in its own results cache, but a clean clone (CI) has none and falls back to file
// size, which says little here. The durations come from a full run, committed in
// test/setup/file-durations.json; `npm run test:durations -- REPORT.json` refreshes them from a
// JSON report (`npx vitest run --reporter=json --outputFile=REPORT.json`). Files the list does
// not name (new ones) run first, as vitest runs files it knows nothing about.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const DURATIONS_FILE = join(import.meta.dirname, 'file-durations.json');

function knownDurations(): Record<string, number> {
  return JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) as Record<string, number>;
}

export default class DurationSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = knownDurations();
    const seconds = (file: TestSpecification) =>
      known[relative(this.ctx.config.root, file.moduleId)] ?? Number.MAX_SAFE_INTEGER;
    return Promise.resolve([...files].sort((a, b) => seconds(b) - seconds(a)));
  }
}
