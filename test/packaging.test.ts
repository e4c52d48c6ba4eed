// The packages as a user receives them: `npm pack` both (@rotor/sdk from packages/sdk, `rotor`
// from the root), install each into a fresh project outside the repository (from the npm
// registry, as a user would) and use them from there. The SDK must install without a native
// module or the CLI/server stack, load every subpath from ES modules and CommonJS, name a
// missing optional peer, and type-check in a TypeScript project with skipLibCheck false.
//
// The TypeScript checks run in this process (test/helpers/type-check.ts): the app's files and the
// installed package's declarations, with skipLibCheck false, as tsc reports them.
//
// Slow by nature (npm pack builds the SDK, npm install, tsc); one install per package (the
// SDK's peers are added to the same project in a second step). Measured on a 2-core machine at
// load average 14-16 with a warm npm cache: packing both and installing the SDK 2-3.7 min, each
// TypeScript check 40-60 s, the peers' step 60-85 s, the rotor step 55-85 s; the whole file
// 3.7-7.7 min. Timeouts are about 3-5x those. The root package is packed from the current dist/
// (test/setup/global-setup.ts builds it when it is missing or stale).
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresPrefix, requireService } from './helpers/services.js';
import { typeCheck } from './helpers/type-check.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const rootPackage = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const SUBPATHS = ['jwt', 'client', 'express', 'fastify', 'tokens', 'pg', 'mysql'] as const;
/** What the SDK's install must not contain: the CLI/server stack and every driver (peers). */
const FORBIDDEN = [
  'better-sqlite3',
  'fastify',
  'commander',
  'nodemailer',
  'pg',
  'mysql2',
  'ioredis',
  'pino',
  'prom-client',
  'kysely',
  '@aws-sdk/client-s3',
];
const PEERS = ['pg', 'mysql2', 'ioredis', 'fastify', '@types/pg'] as const;

const MINUTE = 60_000;
const work = mkdtempSync(join(tmpdir(), 'rotor-packaging-'));

/** npm without the npm_* settings of an enclosing `npm test`, so it acts as in a user's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD') env[key] = value;
  }
  return env;
}

async function sh(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    return await run(command, args, {
      cwd,
      env: { ...cleanEnv(), ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

// --prefer-offline: packages npm has cached are not re-validated against the registry.
const npm = (cwd: string, ...args: string[]) =>
  sh(cwd, 'npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error']);

async function pack(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await npm(dir, 'pack', '--pack-destination', work, ...args);
  return join(work, stdout.trim().split('\n').pop()!);
}

async function tarList(tarball: string): Promise<string[]> {
  return (await sh(work, 'tar', ['tzf', tarball])).stdout.trim().split('\n');
}

function newProject(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, private: true, version: '1.0.0' }),
  );
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** Every package directory under node_modules, scoped ones included. */
function installedPackages(dir: string): string[] {
  const found: string[] = [];
  const walk = (modules: string) => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      const path = join(modules, entry);
      if (entry.startsWith('@')) {
        for (const scoped of readdirSync(path)) {
          found.push(join(path, scoped));
          walk(join(path, scoped, 'node_modules'));
        }
      } else {
        found.push(path);
        walk(join(path, 'node_modules'));
      }
    }
  };
  walk(join(dir, 'node_modules'));
  return found;
}

// The same probe as an ES module and as CommonJS: load every subpath, sign and verify a token,
// then call each helper whose peer may be missing and report what it threw (or that it worked).
const probeBody = (load: string) => `
const { createSecretKey, randomBytes } = require_('node:crypto');
const SUBPATHS = ${JSON.stringify(SUBPATHS)};
const mods = {};
for (const s of SUBPATHS) mods[s] = ${load};
const outcome = async (f) => {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, code: e.code, message: e.message, rotorError: e instanceof mods.jwt.RotorError };
  }
};
const main = async () => {
  const exported = Object.fromEntries(SUBPATHS.map((s) => [s, Object.keys(mods[s]).sort()]));
  const keys = mods.jwt.createJwtKeys({ secret: 'JWT', source: mods.jwt.fromStaticKey({ key: createSecretKey(randomBytes(32)) }), issuer: 'i', audience: 'a', maxAge: 60 });
  await keys.ready();
  const verified = keys.verify(keys.sign({ sub: 'alice' })).claims.sub;
  const env = { DATABASE_URL: process.env.PG_URL };
  const pool = mods.pg.createPool({ source: mods.pg.valueFromEnv({ env }), connectionTimeoutMillis: 3000 });
  const pg = await outcome(async () => (await pool.query('SELECT 40 + 2 AS n')).rows[0].n);
  await pool.end().catch(() => {});
  const my = mods.mysql.createPool({ source: mods.mysql.valueFromEnv({ env: { DATABASE_URL: process.env.MYSQL_URL } }), connectTimeout: 3000 });
  const mysql = await outcome(async () => (await my.query('SELECT 40 + 2 AS n'))[0][0].n);
  await my.end().catch(() => {});
  const pgStore = mods.tokens.createPostgresTokenStore({ connectionString: process.env.PG_URL, prefix: process.env.PREFIX });
  const pgTokens = await outcome(async () => (await pgStore.init(), pgStore.kind));
  await pgStore.close().catch(() => {});
  const redisStore = mods.tokens.createRedisTokenStore({ url: process.env.REDIS_URL, prefix: process.env.PREFIX });
  const redisTokens = await outcome(async () => (await redisStore.init(), redisStore.kind));
  await redisStore.close().catch(() => {});
  const fromStore = await outcome(() => mods.pg.valueFromStore({ dir: process.env.STORE_DIR, environment: 'production' }).load('DATABASE_URL'));
  console.log(JSON.stringify({ exported, verified, pg, mysql, pgTokens, redisTokens, fromStore }));
};
main().catch((e) => { console.error(e); process.exit(1); });
`;
const ESM_PROBE = `import { createRequire } from 'node:module';\nconst require_ = createRequire(import.meta.url);\n${probeBody('await import(`@rotor/sdk/${s}`)')}`;
const CJS_PROBE = `const require_ = require;\n${probeBody('require(`@rotor/sdk/${s}`)')}`;

// A TypeScript app importing the SDK from an ES module and from CommonJS, type-checked with
// skipLibCheck false (the SDK's declarations are checked too).
const tsconfig = (files: string[]) =>
  JSON.stringify({
    compilerOptions: {
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
    },
    files,
  });
const tsApp = (subpaths: readonly string[]) => `
import { createSecretKey, randomBytes } from 'node:crypto';
import { createJwtKeys, fromStaticKey, isRotorError, type JwtKeys } from '@rotor/sdk/jwt';
${subpaths.map((s) => `import * as ${s}Module from '@rotor/sdk/${s}';`).join('\n')}
export const keys: JwtKeys = createJwtKeys({ secret: 'JWT', source: fromStaticKey({ key: createSecretKey(randomBytes(32)) }), issuer: 'i', audience: 'a', maxAge: '15m' });
export const loaded: unknown[] = [${subpaths.map((s) => `${s}Module`).join(', ')}];
export const check = (e: unknown): boolean => isRotorError(e, 'ERR_ROTOR_SDK_PEER_MISSING');
`;
/** Subpaths whose declarations need no peer (pg, mysql and fastify describe their driver's types). */
const LIGHT_SUBPATHS = ['client', 'express', 'tokens'];

type ProbeOutcome =
  { ok: true; value: unknown } | { ok: false; code?: string; message: string; rotorError: boolean };
interface Probe {
  exported: Record<string, string[]>;
  verified: string;
  pg: ProbeOutcome;
  mysql: ProbeOutcome;
  pgTokens: ProbeOutcome;
  redisTokens: ProbeOutcome;
  fromStore: ProbeOutcome;
}

async function probe(dir: string, file: string, env: NodeJS.ProcessEnv): Promise<Probe> {
  const { stdout } = await sh(dir, process.execPath, [file], env);
  return JSON.parse(stdout) as Probe;
}

const nodeTypes = `@types/node@${rootPackage.devDependencies['@types/node']}`;
let sdkTarball: string;
let rotorTarball: string;
let app: string;
const storeDir = join(work, 'store');
const unreachable = {
  PG_URL: 'postgres://nobody@127.0.0.1:1/x',
  MYSQL_URL: 'mysql://nobody@127.0.0.1:1/x',
  REDIS_URL: 'redis://127.0.0.1:1',
  PREFIX: 'rotor',
  STORE_DIR: storeDir,
};

beforeAll(async () => {
  // fromStore needs better-sqlite3 only once a store file exists: an empty one will do.
  mkdirSync(join(storeDir, '.rotor'), { recursive: true });
  writeFileSync(join(storeDir, '.rotor', 'rotor.db'), '');
  expect(
    existsSync(join(repo, 'dist/cli/main.js')),
    'dist/ is missing: run npm run build first',
  ).toBe(true);
  // prepack builds the SDK from src/ (dist/esm + dist/cjs).
  sdkTarball = await pack(join(repo, 'packages/sdk'));
  rotorTarball = await pack(repo, '--ignore-scripts');
  app = newProject('sdk-app', {
    'probe.mjs': ESM_PROBE,
    'probe.cjs': CJS_PROBE,
    'tsconfig.json': tsconfig(['app.mts', 'app.cts']),
    'app.mts': tsApp(LIGHT_SUBPATHS),
    'app.cts': tsApp(LIGHT_SUBPATHS),
    // Many CommonJS TypeScript apps still resolve like Node 10 (no `exports`): typesVersions.
    'tsconfig.node10.json': JSON.stringify({
      compilerOptions: {
        ...JSON.parse(tsconfig([])).compilerOptions,
        module: 'CommonJS',
        moduleResolution: 'Node10',
      },
      files: ['app-node10.ts'],
    }),
    'app-node10.ts': tsApp(LIGHT_SUBPATHS),
  });
  await npm(
    app,
    'install',
    sdkTarball,
    `@types/node@${rootPackage.devDependencies['@types/node']}`,
  );
}, 10 * MINUTE);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('@rotor/sdk, packed and installed into a fresh project', () => {
  it('ships LICENSE and declarations, and no source maps (the package has no sources to point at)', async () => {
    for (const tarball of [sdkTarball, rotorTarball]) {
      const files = await tarList(tarball);
      expect(files).toContain('package/LICENSE');
      expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    }
    const sdkFiles = await tarList(sdkTarball);
    for (const build of ['esm', 'cjs'])
      expect(sdkFiles).toContain(`package/dist/${build}/sdk/jwt/index.d.ts`);
    const { stdout } = await sh(work, 'tar', [
      'xzOf',
      sdkTarball,
      'package/dist/esm/sdk/jwt/index.js',
    ]);
    expect(stdout).not.toContain('sourceMappingURL');
  });

  it('installs no native module and none of the CLI or server stack', async () => {
    const { stdout } = await npm(app, 'ls', '--all', '--json');
    type Node = { version?: string; dependencies?: Record<string, Node> };
    const installed = new Set<string>();
    const unmet = new Set<string>();
    const walk = (deps: Record<string, Node> | undefined) => {
      for (const [name, node] of Object.entries(deps ?? {})) {
        // npm ls lists an optional peer that is not installed as an entry without a version.
        (node.version ? installed : unmet).add(name);
        walk(node.dependencies);
      }
    };
    walk((JSON.parse(stdout) as Node).dependencies);
    expect([...installed].sort()).toEqual(['@rotor/sdk', '@types/node', 'undici-types']);
    expect([...unmet].sort()).toEqual([...PEERS, 'better-sqlite3'].sort());
    for (const name of FORBIDDEN) expect(installed.has(name), name).toBe(false);
    const packages = installedPackages(app);
    expect(packages.length).toBe(3);
    expect(packages.filter((p) => existsSync(join(p, 'binding.gyp')))).toEqual([]);
  });

  it('loads every subpath from ES modules and CommonJS, and names each missing peer', async () => {
    const esm = await probe(app, 'probe.mjs', unreachable);
    const cjs = await probe(app, 'probe.cjs', unreachable);
    for (const result of [esm, cjs]) {
      for (const s of SUBPATHS) expect(result.exported[s], s).toEqual(esm.exported[s]);
      expect(result.exported.jwt).toEqual(
        expect.arrayContaining(['createJwtKeys', 'fromEnv', 'fromStore', 'RotorError']),
      );
      expect(result.exported.tokens).toEqual(
        expect.arrayContaining([
          'createRefreshTokens',
          'createMemoryTokenStore',
          'createPostgresTokenStore',
        ]),
      );
      expect(result.exported.pg).toEqual(
        expect.arrayContaining(['createPool', 'valueFromEnv', 'valueFromStore']),
      );
      expect(result.verified).toBe('alice');
      const missing = {
        pg: 'pg',
        mysql: 'mysql2',
        pgTokens: 'pg',
        redisTokens: 'ioredis',
        fromStore: 'better-sqlite3',
      } as const;
      for (const [helper, peer] of Object.entries(missing)) {
        const outcome = result[helper as keyof typeof missing];
        expect(outcome, helper).toMatchObject({
          ok: false,
          code: 'ERR_ROTOR_SDK_PEER_MISSING',
          rotorError: true,
        });
        expect((outcome as { message: string }).message).toContain(`"${peer}"`);
        expect((outcome as { message: string }).message).toContain(`npm install ${peer}`);
      }
    }
  });

  it('an error from its CommonJS build is a RotorError to its ES module build, and back', async () => {
    // An app whose own code imports the SDK while a dependency requires it gets both builds.
    const script = `import { createRequire } from 'node:module';
const esm = await import('@rotor/sdk/jwt');
const cjs = createRequire(import.meta.url)('@rotor/sdk/jwt');
const fromCjs = new cjs.RotorError('ERR_ROTOR_JWT_OPTIONS_INVALID', 'x');
const fromEsm = new esm.RotorError('ERR_ROTOR_JWT_OPTIONS_INVALID', 'x');
console.log(JSON.stringify([esm.RotorError === cjs.RotorError, fromCjs instanceof esm.RotorError,
  esm.isRotorError(fromCjs, 'ERR_ROTOR_JWT_OPTIONS_INVALID'), fromEsm instanceof cjs.RotorError,
  cjs.isRotorError(new Error('x'))]));`;
    const { stdout } = await sh(app, process.execPath, ['--input-type=module', '-e', script]);
    expect(JSON.parse(stdout)).toEqual([false, true, true, true, false]);
  });

  it('the type check finds an error in the app and in an installed package declaration', () => {
    // A package whose declarations need types nobody installed (TS7016 under strict), as the
    // SDK's did when they named dev-only @types; and an app importing a subpath that is not there.
    const dir = newProject('type-check-control', {
      'tsconfig.json': JSON.stringify({
        compilerOptions: { ...JSON.parse(tsconfig([])).compilerOptions, types: [] },
        files: ['app.mts'],
      }),
      'app.mts': `import { y } from 'typed-badly';\nimport { z } from '@rotor/sdk/nope';\nexport const v = [y, z];\n`,
    });
    const pkg = (name: string, files: Record<string, string>) => {
      mkdirSync(join(dir, 'node_modules', name), { recursive: true });
      for (const [file, text] of Object.entries(files))
        writeFileSync(join(dir, 'node_modules', name, file), text);
    };
    pkg('untyped', { 'package.json': '{"name":"untyped","main":"index.js"}', 'index.js': '' });
    pkg('typed-badly', {
      'package.json': '{"name":"typed-badly","types":"index.d.ts"}',
      'index.d.ts': "import type { X } from 'untyped';\nexport declare const y: X;\n",
    });
    const errors = typeCheck(dir, ['typed-badly']).join('\n');
    expect(errors).toMatch(/node_modules\/typed-badly\/index\.d\.ts.*TS7016/);
    expect(errors).toMatch(/app\.mts.*TS2307.*@rotor\/sdk\/nope/);
  });

  it(
    'type-checks in a TypeScript app with skipLibCheck false, from ES modules and CommonJS',
    async () => {
      expect(typeCheck(app, ['@rotor/sdk'])).toEqual([]);
      expect(typeCheck(app, ['@rotor/sdk'], 'tsconfig.node10.json')).toEqual([]);
    },
    6 * MINUTE,
  );

  it(
    'with its peers installed: pg, mysql and fastify types check, and drivers load from both builds',
    async () => {
      const [pg, mariadb, redis] = await Promise.all([
        requireService('postgres'),
        requireService('mariadb'),
        requireService('redis'),
      ]);
      const versions = { ...rootPackage.dependencies, ...rootPackage.devDependencies };
      await npm(app, 'install', ...PEERS.map((p) => `${p}@${versions[p]}`));
      writeFileSync(join(app, 'app.mts'), tsApp(SUBPATHS));
      writeFileSync(join(app, 'app.cts'), tsApp(SUBPATHS));
      expect(typeCheck(app, ['@rotor/sdk'])).toEqual([]);
      const live = { ...unreachable, PREFIX: `t_pack_${process.pid}` };
      if (pg.available) live.PG_URL = pg.url;
      if (mariadb.available) live.MYSQL_URL = mariadb.url;
      if (redis.available) live.REDIS_URL = redis.url;
      for (const file of ['probe.mjs', 'probe.cjs']) {
        const result = await probe(app, file, live);
        // A driver that loads reaches the server (or fails to connect): never a missing peer.
        for (const helper of ['pg', 'mysql', 'pgTokens', 'redisTokens'] as const)
          expect(result[helper], `${file} ${helper}`).not.toMatchObject({
            code: 'ERR_ROTOR_SDK_PEER_MISSING',
          });
        if (pg.available) expect(result.pg, file).toEqual({ ok: true, value: 42 });
        if (pg.available) expect(result.pgTokens, file).toEqual({ ok: true, value: 'postgres' });
        if (mariadb.available) expect(result.mysql, file).toEqual({ ok: true, value: 42 });
        if (redis.available) expect(result.redisTokens, file).toEqual({ ok: true, value: 'redis' });
        // better-sqlite3 (native) was left out on purpose: still named as missing.
        expect(result.fromStore).toMatchObject({ ok: false, code: 'ERR_ROTOR_SDK_PEER_MISSING' });
      }
      if (pg.available) await dropPostgresPrefix(pg.url, live.PREFIX);
    },
    10 * MINUTE,
  );
});

describe('rotor, packed and installed into a fresh project', () => {
  it(
    'runs rotor --version, init and status, and its root export and rotor/jwt import',
    async () => {
      const dir = newProject('rotor-app', {
        'probe.mjs': `const root = await import('rotor'); const jwt = await import('rotor/jwt');
console.log(JSON.stringify({ root: Object.keys(root).sort(), jwt: typeof jwt.createJwtKeys, same: root.RotorError === jwt.RotorError }));`,
      });
      // better-sqlite3's install script downloads a prebuilt binary from github.com or else
      // compiles SQLite (6.8 min measured here, where github.com does not resolve). Install without
      // scripts and give it the binary the repository's own install built for the same version
      // and Node; everything else is the packed package and what npm resolved for it.
      await npm(dir, 'install', rotorTarball, '--ignore-scripts', nodeTypes);
      const sqlite = (root: string) => join(root, 'node_modules/better-sqlite3');
      const versionOf = (path: string) =>
        (JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { version: string })
          .version;
      expect(versionOf(sqlite(dir))).toBe(versionOf(sqlite(repo)));
      cpSync(
        join(sqlite(repo), 'build/Release/better_sqlite3.node'),
        join(sqlite(dir), 'build/Release/better_sqlite3.node'),
      );

      const rotor = join(dir, 'node_modules/.bin/rotor');
      expect((await sh(dir, rotor, ['--version'])).stdout.trim()).toBe(rootPackage.version);
      const project = join(dir, 'project');
      mkdirSync(project);
      await sh(project, rotor, ['init']);
      expect(existsSync(join(project, '.rotor/master.key'))).toBe(true);
      expect((await sh(project, rotor, ['status'])).stdout).toContain('no secrets in the store');

      const result = JSON.parse((await sh(dir, process.execPath, ['probe.mjs'])).stdout) as {
        root: string[];
        jwt: string;
        same: boolean;
      };
      expect(result.root).toEqual(
        expect.arrayContaining(['RotorError', 'isRotorError', 'ERROR_CODES']),
      );
      expect(result).toMatchObject({ jwt: 'function', same: true });

      // Its declarations need no dev-only @types either (skipLibCheck false).
      const imports = ['rotor', ...SUBPATHS.map((s) => `rotor/${s}`)];
      writeFileSync(join(dir, 'tsconfig.json'), tsconfig(['app.mts']));
      writeFileSync(
        join(dir, 'app.mts'),
        `${imports.map((m, i) => `import * as m${i} from '${m}';`).join('\n')}
import { isRotorError } from 'rotor';
export const loaded: unknown[] = [${imports.map((_, i) => `m${i}`).join(', ')}];
export const check = (e: unknown): boolean => isRotorError(e, 'ERR_ROTOR_SDK_PEER_MISSING');
`,
      );
      expect(typeCheck(dir, ['rotor'])).toEqual([]);
    },
    10 * MINUTE,
  );
});
