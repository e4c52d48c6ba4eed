// A long deploy step shows that it runs, and its (masked) output tail when it fails (issue 11 §5).
import { describe, expect, it } from 'vitest';
import { insertAfter } from './helpers/in-process-cli.js';
import { createProject } from './helpers/project.js';

describe('rotate progress on a terminal', () => {
  it('prints a running line when a deploy hook starts, and the output tail when it fails', async () => {
    const p = await createProject();
    insertAfter(
      p.dir,
      'config: { bytes: 32, encoding: base64url }',
      [
        '    deploy:',
        '      - name: restart billing',
        '        command: ["sh", "-c", "echo deploying; echo boom: bad config >&2; exit 3"]',
      ].join('\n'),
    );
    expect((await p.cli(['apply'])).code).toBe(0);
    const result = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'], { tty: true });
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    const running = lines.findIndex(
      (l) => l.includes('deploy') && l.includes('restart billing running'),
    );
    const failed = lines.findIndex((l) => l.includes('✗') && l.includes('deploy'));
    expect(running).toBeGreaterThan(-1);
    expect(failed).toBeGreaterThan(running);
    expect(result.stdout).toContain('exit code 3');
    expect(result.stdout).toContain('boom: bad config');
  });

  it('prints no running lines when piped (--json or not a terminal)', async () => {
    const p = await createProject();
    const result = await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging']);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('running');
  });
});
