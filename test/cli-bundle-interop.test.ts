// The built CLI (dist/cli) must see the same exports as the sources do under Node. esbuild turned
// `await import('<CommonJS package>')` into a chunk whose only export is `default`, so
// `const { IAMClient } = await import('@aws-sdk/client-iam')` got undefined in the bundle (every
// AWS rotation failed with "IAMClient is not a constructor") while the tests, which ran the
// sources, passed. Walks every chunk the bundle can load and checks each dynamic import.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BUILT } from './helpers/serve-process.js';

const DIR = join(BUILT, '..');
const IMPORT = /(?:from\s*|import\()"\.\/([\w.-]+\.js)"/g;
const DYNAMIC = /(\(?)await import\("\.\/([\w.-]+\.js)"\)(\)?)(\.default)?/g;
const DEFAULT_ONLY = /^export default require_\w+\(\);?\s*$/m;

/** Every file of dist/cli the bundle can load, starting from main.js. */
function reachable(): Map<string, string> {
  const files = new Map<string, string>();
  const queue = ['main.js'];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (files.has(name)) continue;
    const text = readFileSync(join(DIR, name), 'utf8');
    files.set(name, text);
    for (const m of text.matchAll(IMPORT)) queue.push(m[1]!);
  }
  return files;
}

describe('the CLI bundle', () => {
  test('reaches its chunks and loads the dynamically imported CommonJS packages from node_modules', () => {
    expect(existsSync(BUILT)).toBe(true);
    const files = reachable();
    expect(files.size).toBeGreaterThan(20);
    const all = [...files.values()].join('\n');
    for (const pkg of [
      '@aws-sdk/client-iam',
      '@aws-sdk/client-sts',
      '@aws-sdk/client-s3',
      'ioredis',
      'pg',
    ])
      expect(all, pkg).toContain(`import("${pkg}")`);
  });

  test('never takes named exports from a chunk that only exports a CommonJS default', () => {
    const files = reachable();
    const wrong: string[] = [];
    for (const [name, text] of files) {
      for (const m of text.matchAll(DYNAMIC)) {
        const target = files.get(m[2]!)!;
        const usesDefault = m[4] !== undefined;
        if (DEFAULT_ONLY.test(target) && !usesDefault) {
          const line = text.slice(0, m.index).split('\n').length;
          wrong.push(`${name}:${line} imports ${m[2]} (default only)`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
