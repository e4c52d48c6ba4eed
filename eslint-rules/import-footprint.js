// ESLint rule: a footprint is a set of source files a package subpath may load. Every import in a
// file of the set must resolve into the set, or be a node: built-in or a package the set allows.
import { dirname, relative, resolve } from 'node:path';

// Footprints list files relative to the repository root, where eslint.config.js lives.
const root = resolve(import.meta.dirname, '..');

/** @type {import('eslint').Rule.RuleModule} */
export const importFootprint = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep a package subpath to the files and packages it may load.' },
    schema: [
      {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            files: { type: 'array', items: { type: 'string' } },
            packages: { type: 'array', items: { type: 'string' } },
          },
          required: ['name', 'files'],
          additionalProperties: false,
        },
      },
    ],
    messages: {
      outside:
        "{{name}} may not load '{{spec}}': it is outside the files listed for it in eslint.config.js.",
      npm: "{{name}} may not load the package '{{spec}}': only node: built-ins{{allowed}}.",
    },
  },
  create(context) {
    const file = relative(root, context.filename).replaceAll('\\', '/');
    const inSet = (path, files) =>
      files.some((f) => (f.endsWith('/') ? path.startsWith(f) : path === f));
    const footprints = (context.options[0] ?? []).filter((fp) => inSet(file, fp.files));
    if (footprints.length === 0) return {};
    const check = (node) => {
      const source = node.source;
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
      const spec = source.value;
      for (const fp of footprints) {
        if (spec.startsWith('.')) {
          const target = relative(root, resolve(dirname(context.filename), spec))
            .replaceAll('\\', '/')
            .replace(/\.js$/, '.ts');
          if (!inSet(target, fp.files))
            context.report({ node: source, messageId: 'outside', data: { name: fp.name, spec } });
        } else if (!spec.startsWith('node:')) {
          const pkg = spec.startsWith('@')
            ? spec.split('/').slice(0, 2).join('/')
            : spec.split('/')[0];
          const packages = fp.packages ?? [];
          if (!packages.includes(pkg)) {
            const allowed = packages.length ? ` and ${packages.join(', ')}` : '';
            context.report({
              node: source,
              messageId: 'npm',
              data: { name: fp.name, spec, allowed },
            });
          }
        }
      }
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};
