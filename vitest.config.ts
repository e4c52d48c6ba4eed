import { defineConfig } from 'vitest/config';
import DurationSequencer from './test/setup/duration-sequencer.js';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    // Sized for a busy 2-core machine (load average 8-12): tests that spawn the CLI or start
    // servers run 3-5x slower there than on a quiet one. Timing goals live in `npm run bench`.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most tests wait on servers, child processes and the network rather than compute; on a
    // 2-core machine vitest's default (cores - 1 = one file at a time) leaves the CPU idle.
    maxWorkers: 3,
    // A worker keeps the modules it loaded between files (no test relies on a fresh module graph).
    isolate: false,
    // Longest files first, from a committed list (see test/setup/duration-sequencer.ts).
    sequence: { sequencer: DurationSequencer },
  },
});
