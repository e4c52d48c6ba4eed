// docs/cli.md lists every command and every option the CLI registers, so the reference cannot
// silently fall behind the code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { completionTree } from '../src/cli/commands/completion.js';

describe('docs/cli.md', () => {
  it('has a section for every command and subcommand, listing each of its options', async () => {
    const doc = readFileSync('docs/cli.md', 'utf8');
    const { nodes } = await completionTree();
    const missing: string[] = [];
    for (const node of nodes) {
      // The heading is the path alone or followed by its arguments (`<name>`, `[name]`).
      const heading = new RegExp(`^### \`rotor ${node.path}( [<[][^\`]*)?\``, 'm').exec(doc);
      const start = heading ? heading.index : -1;
      if (start < 0) {
        missing.push(`section rotor ${node.path}`);
        continue;
      }
      const end = doc.indexOf('\n### ', start + 1);
      const section = doc.slice(start, end < 0 ? undefined : end);
      for (const option of node.options) {
        const long = option.flags.find((f) => f.startsWith('--'))!;
        if (long !== '--help' && !section.includes(long))
          missing.push(`rotor ${node.path} ${long}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
