// `rotor serve` publishes signed audit checkpoints by itself when one is due (here at once: the
// first one is due as soon as there are rows), as a real process; one whose target is down keeps
// serving and only logs the failure.
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createProject } from './helpers/project.js';
import { startServe, type ServeProcess } from './helpers/serve-process.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function project(to: (dir: string) => string) {
  const p = await createProject();
  cleanups.push(() => rmSync(p.dir, { recursive: true, force: true }));
  mkdirSync(join(p.dir, 'keys'));
  const key = join(p.dir, 'keys', 'ckpt.key');
  expect((await p.cli(['audit', 'checkpoint', 'keygen', '--out', key])).code).toBe(0);
  appendFileSync(
    join(p.dir, 'rotor.yaml'),
    `\naudit:\n  checkpoints:\n    to: ${to(p.dir)}\n    key: { file: ${key} }\n`,
  );
  expect((await p.cli(['apply'])).code).toBe(0); // writes audit rows, and the policy serve follows
  return p;
}

async function waitFor(cond: () => boolean, ms = 60_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return cond();
}

describe('rotor serve and audit checkpoints', () => {
  test('publishes a checkpoint to the directory without being asked', async () => {
    const p = await project((dir) => `dir:${join(dir, 'ckpt')}`);
    const serve: ServeProcess = await startServe(p.dir, ['--no-scheduler']);
    cleanups.push(() => serve.stop());
    const dir = join(p.dir, 'ckpt');
    // The publisher writes a dot-named temporary file and renames it; only the final name counts.
    const published = () =>
      existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
    expect(await waitFor(() => published().length > 0)).toBe(true);
    expect(published()[0]).toMatch(/^checkpoint-\d{15}-[0-9a-f-]{36}\.json$/);
    expect(await serve.stop()).toBe(0);
  }, 120_000);

  test('a target that is down does not stop the server', async () => {
    const p = await project(() => 'http://127.0.0.1:9/checkpoints');
    const serve = await startServe(p.dir, ['--no-scheduler']);
    cleanups.push(() => serve.stop());
    expect(await waitFor(() => serve.stderr().includes('audit checkpoint not published'))).toBe(
      true,
    );
    expect((await fetch(`${serve.base}/healthz`)).status).toBe(200);
    const check = await p.cli(['check']);
    expect(check.stdout).toContain('ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED');
    expect(await serve.stop()).toBe(0);
  }, 120_000);
});
