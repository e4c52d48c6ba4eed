// The layer and footprint rules of eslint.config.js fire on a forbidden import (they replace the
// regex import walkers); type-aware rules are off here, so a fixture need not exist on disk.
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: [tseslint.configs.disableTypeChecked],
});

/** Rule id and message of every problem ESLint finds in `code` placed at `filePath`. */
async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const used = x;\n`, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('layer boundaries (no-restricted-imports)', () => {
  it.each([
    [
      'src/core/fixture.ts',
      '../cli/io.js',
      'src/core imports nothing from cli, server, sdk, rotators',
    ],
    ['src/core/vault/fixture.ts', '../../server/app.js', 'src/core imports nothing'],
    ['src/core/fixture.ts', '../rotators/registry.js', 'src/core imports nothing'],
    [
      'src/sdk/pg-fixture.ts',
      '../server/app.js',
      'src/sdk imports nothing from cli, server, rotators',
    ],
    ['src/sdk/jwt/fixture.ts', '../../cli/program.js', 'src/sdk imports nothing'],
    ['src/server/fixture.ts', '../cli/program.js', 'src/server imports nothing from cli'],
    [
      'src/rotators/fixture.ts',
      '../sdk/pg.js',
      'src/rotators imports nothing from cli, server, sdk',
    ],
    ['src/server/fixture.ts', 'rotor/jwt', 'Source files import each other by relative path'],
  ])('%s may not import %s', async (file, spec, message) => {
    const found = (await problems(file, `import { x } from '${spec}';`)).filter((m) =>
      m.startsWith('no-restricted-imports:'),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(message);
  });

  it('imports down the layers pass', async () => {
    expect(await problems('src/cli/fixture.ts', "import { x } from '../server/app.js';")).toEqual(
      [],
    );
    expect(
      await problems('src/server/fixture.ts', "import { x } from '../core/errors.js';"),
    ).toEqual([]);
    expect(
      await problems('src/core/vault/fixture.ts', "import { x } from '../errors.js';"),
    ).toEqual([]);
  });
});

describe('rotor/client and rotor/jwt footprints (rotor/import-footprint)', () => {
  it('rotor/client loads no npm package and no core file outside its list', async () => {
    expect(await problems('src/sdk/client/fixture.ts', "import { x } from 'zod';")).toEqual([
      "rotor/import-footprint: rotor/client may not load the package 'zod': only node: built-ins.",
    ]);
    expect(
      await problems(
        'src/sdk/client/fixture.ts',
        "import { x } from '../../core/store/schema.js';",
      ),
    ).toEqual([
      "rotor/import-footprint: rotor/client may not load '../../core/store/schema.js': it is outside the files listed for it in eslint.config.js.",
    ]);
    // Reaching SQLite through the jwt store reader is outside the client's list too.
    expect(
      await problems('src/sdk/client/fixture.ts', "import { x } from '../jwt/from-store.js';"),
    ).toHaveLength(1);
    expect(
      await problems('src/sdk/client/fixture.ts', "const x = await import('better-sqlite3');"),
    ).toHaveLength(1);
  });

  it('a core file both footprints load is held to both lists', async () => {
    const found = await problems(
      'src/core/errors.ts',
      "import { x } from './store/open-store.js';",
    );
    expect(found.map((m) => m.split(' may not')[0])).toEqual([
      'rotor/import-footprint: rotor/client',
      'rotor/import-footprint: rotor/jwt',
    ]);
  });

  it('what the lists allow passes', async () => {
    expect(
      await problems(
        'src/sdk/client/fixture.ts',
        "import { x } from '../../core/errors.js';\nimport { y } from 'node:crypto';\nexport { y };",
      ),
    ).toEqual([]);
    expect(
      await problems('src/sdk/jwt/fixture.ts', "import type { x } from 'better-sqlite3';"),
    ).toEqual([]);
  });
});
