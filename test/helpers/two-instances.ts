// Two `rotor serve` processes of the built CLI on one scratch PostgreSQL store, with the policy
// applied, one secret rotated and an admin and an app token: the set-up of the multi-instance
// tests. Imported only by tests that already need PostgreSQL.
import { expect } from 'vitest';
import { createProject, type TestProject } from './project.js';
import { adminAndAppTokens, killServe, startServe, type ServeProcess } from './serve-process.js';
import { createScratchDatabase } from './store-backends.js';

export interface TwoInstances {
  project: TestProject;
  a: ServeProcess;
  b: ServeProcess;
  admin: string;
  app: string;
  /** SIGTERM both instances and drop the database. */
  stop(): Promise<void>;
}

export async function startTwoInstances(options: {
  database: string;
  policy: string;
  rotate: string;
  serveArgs?: string[];
}): Promise<TwoInstances> {
  const db = await createScratchDatabase(options.database);
  const project = await createProject({
    policy: options.policy,
    start: Date.now(),
    env: { ROTOR_STORE_URL: db.url },
  });
  expect((await project.cli(['apply'])).code).toBe(0);
  expect((await project.cli(['rotate', options.rotate])).code).toBe(0);
  const { admin, app } = await adminAndAppTokens(project);
  const serve = () => startServe(project.dir, options.serveArgs ?? [], { ...project.env });
  const [a, b] = await Promise.all([serve(), serve()]);
  return {
    project,
    a,
    b,
    admin,
    app,
    async stop() {
      for (const i of [a, b]) await killServe(i, 'SIGTERM');
      await db.drop();
    },
  };
}
