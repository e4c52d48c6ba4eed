// No import cycle between the folders of src/core (a file directly in src/core counts as its own
// unit): each folder can then be read, tested and replaced knowing only what it imports. Type-only
// imports count too: they tie a folder's meaning to another's just the same.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const CORE = resolve(import.meta.dirname, '../src/core');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** `rotation` for src/core/rotation/…, `context` for src/core/context.ts. */
function unitOf(file: string): string {
  const parts = relative(CORE, file).split('/');
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, '') : parts[0]!;
}

/** Relative module specifiers of a file's import and export declarations and dynamic imports. */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      out.push(node.moduleSpecifier.text);
    else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    )
      out.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out.filter((s) => s.startsWith('.'));
}

/** unit → unit → the import lines that make the edge, as `file: specifier`. */
function unitGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of sourceFiles(CORE)) {
    const from = unitOf(file);
    const edges = graph.get(from) ?? graph.set(from, new Map()).get(from)!;
    for (const spec of specifiers(file)) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!target.startsWith(`${CORE}/`)) continue;
      const to = unitOf(target);
      if (to === from) continue;
      const why = edges.get(to) ?? edges.set(to, []).get(to)!;
      why.push(`${relative(CORE, file)}: ${spec}`);
    }
  }
  return graph;
}

/** Strongly connected components with more than one unit (Tarjan). */
function cycles(graph: Map<string, Map<string, string[]>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The imports inside one cycle, for the failure message. */
function describeCycle(graph: Map<string, Map<string, string[]>>, units: string[]): string[] {
  return units.flatMap((from) =>
    [...(graph.get(from) ?? [])]
      .filter(([to]) => units.includes(to))
      .flatMap(([to, why]) => why.map((line) => `${from} -> ${to}  (${line})`)),
  );
}

describe('imports inside src/core', () => {
  it('the walker sees the imports it must (a known edge is in the graph)', () => {
    const graph = unitGraph();
    expect(graph.get('context')?.has('store')).toBe(true);
    expect(graph.get('rotation')?.has('rotator')).toBe(true);
  });

  it('no import cycle between folders of src/core', () => {
    const graph = unitGraph();
    const found = cycles(graph).map((units) => describeCycle(graph, units));
    expect(found).toEqual([]);
  });
});
