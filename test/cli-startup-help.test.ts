// `rotor --help` from the built CLI (dist/, run `npm run build` first) is prebuilt at build time
// (src/cli/prebuilt-help.ts): it must be byte for byte what commander prints from the sources.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MAIN } from './helpers/in-process-cli.js';

const TIMEOUT = 120_000;

function run(args: string[]) {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: TIMEOUT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rotor --help from the built CLI', () => {
  it(
    'prints exactly what commander prints from the sources, for --help and -h',
    () => {
      const fromSources = run(['--import', 'tsx', 'src/cli/main.ts', '--help']);
      expect(fromSources.code).toBe(0);
      expect(fromSources.stdout).toContain('Usage: rotor');
      for (const flag of ['--help', '-h']) expect(run([MAIN, flag])).toEqual(fromSources);
    },
    TIMEOUT,
  );

  it(
    'still lets commander answer help that is not the bare overview',
    () => {
      const r = run([MAIN, 'status', '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: rotor status');
    },
    TIMEOUT,
  );
});
