// The scheduler inside `rotor serve` loads the applied policy before every tick (beforeTick with
// the applied-policy follower): a deploy hook fixed by `rotor apply` in another connection is the
// one the next scheduled rotation runs, not the broken one the process started with.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { followAppliedPolicy } from '../src/core/apply/applied-policy.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createScheduler } from '../src/core/scheduler/scheduler.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';

const policy = (hook: string) => `version: 1
environments: [production]
secrets:
  TOKEN:
    kind: random
    cadence: 30d
    deploy:
      - name: reload
        command: ["sh", "-c", ${JSON.stringify(hook)}]
`;

let project: TestProject | undefined;
afterEach(() => {
  if (project) rmSync(project.dir, { recursive: true, force: true });
  project = undefined;
});

describe('the scheduler follows the applied policy', () => {
  test.each([true, false])(
    'with the follower (%s): the next scheduled rotation runs the deploy hook applied after start',
    async (follow) => {
      project = await createProject({ policy: policy('exit 0') });
      expect((await project.cli(['rotate', 'TOKEN'])).code).toBe(0);
      project.writePolicy(policy('exit 4'));
      expect((await project.cli(['apply'])).code).toBe(0);

      // The long-running process starts with the broken hook applied.
      const rotor = project.rotor();
      const store = await rotor.store();
      const follower = followAppliedPolicy(rotor, store);
      await follower.refresh();
      const scheduler = createScheduler({
        rotor,
        engine: createRotationEngine({ rotor }),
        ...(follow ? { beforeTick: () => follower.refresh() } : {}),
      });
      try {
        // The fix is applied by another process (another connection), then the secret falls due.
        project.writePolicy(policy('touch fixed-hook-ran'));
        expect((await project.cli(['apply'])).code).toBe(0);
        project.clock.advance(31 * DAY);
        const report = await scheduler.tick();
        const rotation = report.rotations.find((r) => r.secret === 'TOKEN');
        expect(rotation, JSON.stringify(report)).toMatchObject({
          environment: 'production',
          attempt: 1,
        });
        if (follow) {
          expect(rotation!.outcome).toBe('rotated');
          expect(existsSync(join(project.dir, 'fixed-hook-ran'))).toBe(true);
        } else {
          // Without following, the process keeps the hook it read at start: what the issue reported.
          expect(rotation!.outcome).not.toBe('rotated');
          expect(existsSync(join(project.dir, 'fixed-hook-ran'))).toBe(false);
        }
      } finally {
        await scheduler.stop();
        follower.close();
        await rotor.close();
      }
    },
    60_000,
  );
});
