// Wall time of one DATABASE_URL rotation (create → apply → verify → promote, journaled and
// audited) through the engine, against the machine's PostgreSQL (the issue's target) and MariaDB
// (for comparison). Each rotation is followed by the retire of the previous version, not timed,
// so the next one finds its alternate login role idle. No clients are connected.
import type { ProgressEvent } from '../src/core/rotation/rotation-engine.js';
import { createDbProject, inProcessRotations, type DbEngine } from './db-fixture.js';
import type { BenchModule, BenchResult } from './harness.js';

const ROTATIONS = 20;

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;

async function measure(
  engine: DbEngine,
): Promise<{ samples: number[]; steps: Map<string, number[]>; failed: string[] }> {
  const project = await createDbProject(engine);
  const steps = new Map<string, number[]>();
  let counting = false;
  const onProgress = (e: ProgressEvent) => {
    if (!counting || e.phase !== 'done' || e.ms === undefined) return;
    steps.set(e.step, [...(steps.get(e.step) ?? []), e.ms]);
  };
  const rotations = inProcessRotations(project, { onProgress });
  try {
    // Warm-up: the first rotation creates the login role, the second the other one.
    for (let i = 0; i < 2; i++) {
      await rotations.rotate();
      if (i > 0) await rotations.retire();
    }
    const samples: number[] = [];
    const failed: string[] = [];
    for (let i = 0; i < ROTATIONS; i++) {
      counting = true;
      const r = await rotations.rotate();
      samples.push(r.ms);
      failed.push(...r.failed);
      counting = false;
      await rotations.retire();
    }
    return { samples, steps, failed };
  } finally {
    await rotations.close();
    await project.cleanup();
  }
}

const bench: BenchModule = {
  name: 'db-rotation-wall',
  async run() {
    const results: BenchResult[] = [];
    for (const engine of ['postgres', 'mariadb'] as const) {
      let m: Awaited<ReturnType<typeof measure>>;
      try {
        m = await measure(engine);
      } catch (error) {
        results.push({
          name: `${engine} rotation wall time`,
          value: 0,
          unit: 'ms',
          pass: false,
          notes: `did not run: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`,
        });
        continue;
      }
      const s = sorted(m.samples);
      const steps = [...m.steps].map(([step, ms]) => `${step} ${median(ms).toFixed(1)}`).join(', ');
      const notes = `median of ${ROTATIONS}: ${median(s).toFixed(1)} ms, min ${s[0]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms; step medians (ms): ${steps}${m.failed.length ? `; failed attempts (retried, not in the figures): ${m.failed.join(' | ')}` : ''}`;
      process.stderr.write(`  ${engine}: ${notes}\n`);
      results.push(
        {
          name: `${engine} rotation create→promote (median of ${ROTATIONS})`,
          value: median(s),
          unit: 'ms',
          ...(engine === 'postgres' ? { target: '< 1000 ms', pass: median(s) < 1000 } : {}),
          notes,
        },
        {
          name: `${engine} rotation create→promote (max of ${ROTATIONS})`,
          value: s[s.length - 1]!,
          unit: 'ms',
          ...(engine === 'postgres' ? { target: '< 1000 ms', pass: s[s.length - 1]! < 1000 } : {}),
        },
      );
    }
    return results;
  },
};
export default bench;
