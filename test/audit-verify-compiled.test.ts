// The audit verifier as it ships: dist/'s compiled modules start their worker threads from the
// compiled worker and store reader (tests of the sources use bundles of them, see
// test/helpers/spawned-entries.ts). A child process verifies a 40-row SQLite log on two threads.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { ROOT } from './helpers/serve-process.js';

const dir = mkdtempSync(join(tmpdir(), 'rotor-verify-compiled-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dist = (path: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', path)).href);
const SCRIPT = `
const { openStore } = await import(${dist('core/store/open-store.js')});
const { recordAudit } = await import(${dist('core/audit/audit-log.js')});
const { systemClock } = await import(${dist('core/clock.js')});
const { verifyAuditChain } = await import(${dist('core/audit/audit-verify.js')});
const store = await openStore({ stateDir: process.argv[1], create: true, env: {} });
const actor = { operator: 'tester', requestId: 'r', method: 'manual' };
for (let n = 0; n < 40; n++) await recordAudit(store, systemClock, actor, { action: 'test.append', outcome: 'info', details: { n } });
const result = await verifyAuditChain(store, { threads: 2, parallelThreshold: 0 });
await store.close();
process.stdout.write(JSON.stringify(result));
`;

test('verifies on worker threads started from the compiled modules', () => {
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', SCRIPT, join(dir, '.rotor')],
    { encoding: 'utf8', env: { PATH: process.env.PATH } },
  );
  expect(JSON.parse(out)).toMatchObject({ ok: true, rows: 40, headSeq: 40, threads: 2 });
});
