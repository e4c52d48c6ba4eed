// The README's first command: `rotor demo`, as a newcomer runs it, through the built CLI in a real
// process. Every step must succeed (only `check` may exit non-zero: it reports), and no value it
// generated or stored may appear in what it prints.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRotor } from '../src/core/context.js';
import { openVersion } from '../src/core/vault/versions.js';
import { ROTATORS } from '../src/rotators/registry.js';

const MAIN = join(process.cwd(), 'dist/cli/main.js');

describe('rotor demo', () => {
  it('runs every step of the guided session and prints no value', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rotor-demo-test-')), 'session');
    const run = spawnSync(process.execPath, [MAIN, 'demo', '--dir', dir], {
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', ROTOR_OPERATOR: 'newcomer' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout + run.stderr;
    for (const command of [
      'rotor init',
      'rotor apply',
      'rotor import SMTP_PASSWORD',
      'rotor rotate JWT_ACCESS_SECRET',
      'rotor status',
      'rotor check',
      'rotor run --env production',
      'rotor audit list',
      'rotor audit verify',
    ]) {
      expect(out).toContain(`$ ${command}`);
    }
    expect(out).toContain('audit log intact');
    expect(out).toContain('JWT_ACCESS_SECRET');
    // A step that failed prints "(exit N)"; only the monitoring checks may (they report state).
    const lines = out.split('\n');
    const failedAfter = lines.flatMap((line, i) =>
      /^\(exit \d+\)$/.test(line.trim())
        ? [
            lines
              .slice(0, i)
              .reverse()
              .find((l) => l.startsWith('$ ')),
          ]
        : [],
    );
    for (const command of failedAfter) expect(command).toMatch(/^\$ rotor check/);
    const rotor = createRotor({ cwd: dir, env: {}, rotators: ROTATORS });
    try {
      const store = await rotor.store();
      const master = await rotor.masterKey();
      const rows = await store.db
        .selectFrom('versions')
        .selectAll()
        .where('ciphertext', 'is not', null)
        .execute();
      expect(rows.length).toBeGreaterThan(8);
      for (const row of rows) expect(out).not.toContain(openVersion(master, row));
    } finally {
      await rotor.close();
    }
  }, 90_000);
});
