// Every relative link in README.md and docs/ resolves: the file exists, and an anchor names a
// heading of it (GitHub's slugs). The README's links also resolve inside the packed `rotor`
// package, since npm shows the README of the package that was installed.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = process.cwd();

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function headings(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

/** Relative link targets outside code blocks: `[text](target)`. */
function links(file: string): string[] {
  const text = readFileSync(file, 'utf8')
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^[a-z]+:/i.test(t));
}

const FILES = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];

describe('documentation links', () => {
  it.each(FILES.map((f) => [relative(ROOT, f), f]))(
    'every relative link in %s resolves',
    (_name, file) => {
      const broken: string[] = [];
      for (const target of links(file)) {
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : normalize(join(dirname(file), decodeURI(path)));
        if (!existsSync(resolved)) broken.push(`${target} (no such file)`);
        else if (anchor && resolved.endsWith('.md') && !headings(resolved).has(anchor))
          broken.push(`${target} (no such heading)`);
      }
      expect(broken).toEqual([]);
    },
  );

  it('the packed package holds every file the README links to', () => {
    const [pack] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: ROOT,
        encoding: 'utf8',
      }),
    ) as [{ files: { path: string }[] }];
    const packed = new Set(pack.files.map((f) => f.path));
    const missing = links(join(ROOT, 'README.md'))
      .map((t) => normalize(decodeURI(t.split('#')[0]!)))
      .filter(
        (p) =>
          p !== '.' &&
          p !== '' &&
          !packed.has(p) &&
          ![...packed].some((f) => f.startsWith(`${p}/`)),
      );
    expect(missing).toEqual([]);
  });
});
