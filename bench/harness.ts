// Shared benchmark plumbing: each bench module exports `run()` returning results; targets are
// ratios against a baseline measured in the same process, or absolute budgets from the issue.

export interface BenchResult {
  name: string;
  /** The measured figure, in `unit`. */
  value: number;
  unit: string;
  /** What the figure is compared with, if a baseline was measured in the same run. */
  baseline?: { name: string; value: number; unit: string };
  /** value / baseline.value, when a baseline exists. */
  ratio?: number;
  /** The target, stated in words, and whether this run met it. */
  target?: string;
  pass?: boolean;
  notes?: string;
}

export type BenchModule = { name: string; run(): Promise<BenchResult[]> };

export async function timeIt<T>(fn: () => Promise<T> | T): Promise<{ ms: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

/** Median of `n` runs, after one warm-up. */
export async function medianMs(n: number, fn: () => unknown): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push((await timeIt(fn)).ms);
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}
