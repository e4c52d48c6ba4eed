// The keyring an application uses: what sign writes, how verify picks a key (by kid, one
// lookup), reloads when its source changes, the kid-less migration window, the key checks a
// source's keys must pass, and that importing rotor/jwt never loads the CLI.
import { execFileSync } from 'node:child_process';
import { createSecretKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../src/core/clock.js';
import { createJwtKeys, type JwtKeysOptions, type KeySource } from '../src/sdk/jwt/index.js';
import { parseStrictJsonObject } from '../src/sdk/jwt/strict-json.js';
import {
  AUDIENCE,
  edKey,
  expectRejection,
  forge,
  goodClaims,
  hmacKey,
  hs,
  ISSUER,
  keySet,
  mutableSource,
  NOW_S,
  START,
  type MutableSource,
} from './helpers/jwt.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const HOUR = 3_600_000;

function keys(source: KeySource, options: Partial<JwtKeysOptions> = {}) {
  return createJwtKeys({
    secret: 'JWT_ACCESS_SECRET',
    source,
    issuer: ISSUER,
    audience: AUDIENCE,
    type: 'at+jwt',
    maxAge: '15m',
    clock: createManualClock(START),
    ...options,
  });
}

function decode(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>,
  };
}

async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('sign', () => {
  it('signs with the current version only and writes kid, typ, iss, aud, iat and exp', async () => {
    const current = hmacKey();
    const previous = hmacKey();
    const k = keys(
      mutableSource(
        keySet([
          previous.version('previous', START + HOUR),
          current.version('current'),
          edKey().version('standby'),
        ]),
      ),
    );
    await k.ready();
    const token = k.sign({ sub: 'user-1', role: 'admin' });
    expect(decode(token)).toEqual({
      header: { alg: 'HS256', kid: current.kid, typ: 'at+jwt' },
      payload: {
        sub: 'user-1',
        role: 'admin',
        iss: ISSUER,
        aud: AUDIENCE,
        iat: NOW_S,
        exp: NOW_S + 900,
      },
    });
    expect(k.currentKid).toBe(current.kid);
    expect(k.verify(token)).toMatchObject({ kid: current.kid, stage: 'current' });
    // Per-token type and lifetime; an exp in the claims is kept.
    expect(decode(k.sign({ sub: 'u' }, { type: 'refresh+jwt', maxAge: '14d' })).payload.exp).toBe(
      NOW_S + 14 * 86_400,
    );
    expect(decode(k.sign({ sub: 'u' }, { type: 'refresh+jwt' })).header.typ).toBe('refresh+jwt');
    expect(decode(k.sign({ sub: 'u', exp: NOW_S + 5 })).payload.exp).toBe(NOW_S + 5);
  });

  it('signs EdDSA and ES256 tokens that verify, with the key their version names', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecKid = randomUUID();
    const ed = edKey();
    for (const version of [
      ed.version('current'),
      {
        kid: ecKid,
        stage: 'current' as const,
        alg: 'ES256',
        verifyKey: ec.publicKey,
        signingKey: ec.privateKey,
      },
    ]) {
      const k = keys(mutableSource(keySet([version])));
      await k.ready();
      const token = k.sign({ sub: 'user-1' });
      expect(decode(token).header).toMatchObject({ alg: version.alg, kid: version.kid });
      expect(token.split('.')[2]).toHaveLength(86); // 64-byte raw (IEEE P1363) signatures
      expect(k.verify(token).claims.sub).toBe('user-1');
    }
  });

  it('never signs with a standby or previous key, nor without a signing key', async () => {
    const noCurrent = keys(
      mutableSource(
        keySet([edKey().version('standby'), hmacKey().version('previous', START + HOUR)]),
      ),
    );
    await noCurrent.ready();
    expectRejection(
      () => noCurrent.sign({ sub: 'u' }),
      'ERR_ROTOR_JWT_NO_SIGNING_KEY',
      /no current signing key/,
    );
    const current = hmacKey();
    const verifyOnly = keys(
      mutableSource(
        keySet([{ kid: current.kid, stage: 'current', alg: 'HS256', verifyKey: current.key }]),
      ),
    );
    await verifyOnly.ready();
    expectRejection(() => verifyOnly.sign({ sub: 'u' }), 'ERR_ROTOR_JWT_NO_SIGNING_KEY');
    expect(
      verifyOnly.verify(
        forge({ alg: 'HS256', kid: current.kid, typ: 'at+jwt' }, goodClaims(), hs(current.key)),
      ).stage,
    ).toBe('current');
  });

  it('refuses to sign or verify before the key set is loaded', () => {
    const k = keys({
      load: () => new Promise(() => undefined),
      watch: () => () => undefined,
      close: async () => undefined,
    });
    expectRejection(() => k.sign({ sub: 'u' }), 'ERR_ROTOR_JWT_NOT_READY', /await ready\(\)/);
    expectRejection(() => k.verify('a.b.c'), 'ERR_ROTOR_JWT_NOT_READY');
  });

  it('validates its options once, at creation', () => {
    const source = mutableSource(keySet([hmacKey().version('current')]));
    const bad: Array<[Partial<JwtKeysOptions>, RegExp]> = [
      [{ issuer: '' }, /issuer/],
      [{ audience: [] }, /audience/],
      [{ maxAge: -1 }, /maxAge/],
      [{ maxAge: 'soon' }, /invalid duration/],
      [{ algorithms: ['HS256', 'RS256'] }, /not RS256/],
      [{ maxTokenBytes: 10 }, /maxTokenBytes/],
      [{ acceptWithoutKid: { until: Number.NaN } }, /until/],
      [{ acceptWithoutKid: { until: START + HOUR, kid: 'old-key' } }, /version id/],
    ];
    for (const [options, message] of bad) {
      const error = (() => {
        try {
          keys(source, options);
        } catch (e) {
          return e as { code: string; message: string };
        }
        return undefined;
      })();
      expect(
        error?.code === 'ERR_ROTOR_JWT_OPTIONS_INVALID' ||
          error?.code === 'ERR_ROTOR_DURATION_INVALID',
        JSON.stringify(options),
      ).toBe(true);
      expect(error?.message).toMatch(message);
    }
  });
});

describe('verify picks the key by kid', () => {
  it('never tries keys in turn: a token signed by one key under another key’s kid fails', async () => {
    const a = hmacKey();
    const b = hmacKey();
    const k = keys(
      mutableSource(keySet([a.version('current'), b.version('previous', START + HOUR)])),
    );
    await k.ready();
    expect(
      k.verify(forge({ alg: 'HS256', kid: b.kid, typ: 'at+jwt' }, goodClaims(), hs(b.key))).kid,
    ).toBe(b.kid);
    expectRejection(
      () => k.verify(forge({ alg: 'HS256', kid: b.kid, typ: 'at+jwt' }, goodClaims(), hs(a.key))),
      'ERR_ROTOR_JWT_SIGNATURE_INVALID',
    );
    expectRejection(
      () => k.verify(forge({ alg: 'HS256', kid: a.kid, typ: 'at+jwt' }, goodClaims(), hs(b.key))),
      'ERR_ROTOR_JWT_SIGNATURE_INVALID',
    );
  });

  it('checks each key against its own algorithm when the set is loaded', async () => {
    const ed = edKey();
    const cases: Array<[ReturnType<typeof keySet>, RegExp]> = [
      [
        keySet([
          {
            kid: randomUUID(),
            stage: 'current',
            alg: 'HS256',
            verifyKey: createSecretKey(randomBytes(16)),
          },
        ]),
        /at least 32 key bytes/,
      ],
      [
        keySet([{ kid: randomUUID(), stage: 'current', alg: 'HS256', verifyKey: ed.publicKey }]),
        /needs a secret key/,
      ],
      [
        keySet([
          {
            kid: randomUUID(),
            stage: 'current',
            alg: 'EdDSA',
            verifyKey: createSecretKey(randomBytes(32)),
          },
        ]),
        /needs a public key/,
      ],
      [
        keySet([{ kid: randomUUID(), stage: 'current', alg: 'ES256', verifyKey: ed.publicKey }]),
        /P-256/,
      ],
      [
        keySet([{ kid: randomUUID(), stage: 'current', alg: 'RS256', verifyKey: ed.publicKey }]),
        /unsupported algorithm RS256/,
      ],
      [
        keySet([{ kid: 'key-1', stage: 'current', alg: 'EdDSA', verifyKey: ed.publicKey }]),
        /not a Rotor version id/,
      ],
      [keySet([ed.version('current'), { ...ed.version('standby') }]), /appears twice/],
      [keySet([ed.version('current'), edKey().version('current')]), /two current versions/],
      [
        keySet([{ ...ed.version('current'), signingKey: ed.publicKey }]),
        /signing key is a public key/,
      ],
    ];
    for (const [set, message] of cases) {
      const k = keys(mutableSource(set));
      await expect(k.ready()).rejects.toMatchObject({
        code: 'ERR_ROTOR_JWT_SOURCE_INVALID',
        message: expect.stringMatching(message),
      });
    }
  });
});

describe('reloading', () => {
  it('picks up a rotation without restart: signs with the new kid, accepts the old in grace, refuses it after an emergency', async () => {
    const v1 = hmacKey();
    const v2 = hmacKey();
    const v3 = hmacKey();
    const source = mutableSource(keySet([v1.version('current')]));
    const k = keys(source);
    await k.ready();
    const t1 = k.sign({ sub: 'user-1' });
    source.replace(keySet([v2.version('current'), v1.version('previous', START + HOUR)]));
    await until(() => k.currentKid === v2.kid);
    const t2 = k.sign({ sub: 'user-1' });
    expect(decode(t2).header.kid).toBe(v2.kid);
    expect(k.verify(t1).stage).toBe('previous');
    // Emergency: v2 compromised, v1 retired, v3 current.
    source.replace(
      keySet([v3.version('current')], {
        retired: new Map([
          [v1.kid, 'retired'],
          [v2.kid, 'compromised'],
        ]),
      }),
    );
    await until(() => k.currentKid === v3.kid);
    expectRejection(() => k.verify(t2), 'ERR_ROTOR_JWT_KID_COMPROMISED');
    expectRejection(() => k.verify(t1), 'ERR_ROTOR_JWT_KID_RETIRED');
    expect(k.verify(k.sign({ sub: 'user-1' })).kid).toBe(v3.kid);
  });

  it('rebuilds only when the revision changes, and keeps the last good set when a reload fails', async () => {
    const v1 = hmacKey();
    const set = keySet([v1.version('current')]);
    const source = mutableSource(set);
    const onError = vi.fn();
    const k = keys(source, { onError });
    await k.ready();
    source.replace({ ...set });
    await until(() => source.loads === 2);
    expect(k.currentKid).toBe(v1.kid);
    const broken: MutableSource = source;
    const load = broken.load.bind(broken);
    broken.load = async () => {
      throw Object.assign(new Error('store unreadable'), { code: 'ERR_ROTOR_STORE_CORRUPT' });
    };
    source.replace(keySet([hmacKey().version('current')]));
    await until(() => onError.mock.calls.length === 1);
    expect(k.currentKid).toBe(v1.kid);
    expect(k.verify(k.sign({ sub: 'u' })).kid).toBe(v1.kid);
    broken.load = load;
    await k.close();
    source.replace(keySet([hmacKey().version('current')]));
    await new Promise((r) => setTimeout(r, 20));
    expect(k.currentKid).toBe(v1.kid); // closed: no longer watching
  });

  it('ready() retries after a failed first load', async () => {
    let fail = true;
    const v1 = hmacKey();
    const source: KeySource = {
      load: async () => {
        if (fail)
          throw Object.assign(new Error('not yet'), { code: 'ERR_ROTOR_STORE_NOT_INITIALIZED' });
        return keySet([v1.version('current')]);
      },
      watch: () => () => undefined,
      close: async () => undefined,
    };
    const k = keys(source);
    await expect(k.ready()).rejects.toMatchObject({ code: 'ERR_ROTOR_STORE_NOT_INITIALIZED' });
    fail = false;
    await k.ready();
    expect(k.currentKid).toBe(v1.kid);
  });
});

describe('migration: tokens without a kid', () => {
  const legacy = hmacKey(); // the secret the app used before Rotor, imported as a version
  const next = hmacKey();
  const noKid = (key = legacy.key) => forge({ alg: 'HS256', typ: 'at+jwt' }, goodClaims(), hs(key));

  it('accepts them against the named version until the deadline, then refuses them', async () => {
    const clock = createManualClock(START);
    const k = keys(
      mutableSource(
        keySet([next.version('current'), legacy.version('previous', START + 2 * HOUR)]),
      ),
      { clock, acceptWithoutKid: { until: START + HOUR, kid: legacy.kid } },
    );
    await k.ready();
    expect(k.verify(noKid())).toMatchObject({ kid: legacy.kid, stage: 'previous' });
    expectRejection(() => k.verify(noKid(next.key)), 'ERR_ROTOR_JWT_SIGNATURE_INVALID'); // one key, not a search
    clock.set(START + HOUR);
    expectRejection(
      () => k.verify(noKid()),
      'ERR_ROTOR_JWT_KID_MISSING',
      /only until 2026-01-01T01:00:00.000Z/,
    );
  });

  it('uses the current version when no kid is named, and stops with that version', async () => {
    const source = mutableSource(keySet([legacy.version('current')]));
    const k = keys(source, { acceptWithoutKid: { until: new Date(START + 24 * HOUR) } });
    await k.ready();
    expect(k.verify(noKid()).kid).toBe(legacy.kid);
    const named = keys(
      mutableSource(
        keySet([next.version('current')], { retired: new Map([[legacy.kid, 'compromised']]) }),
      ),
      { acceptWithoutKid: { until: START + HOUR, kid: legacy.kid } },
    );
    await named.ready();
    expectRejection(() => named.verify(noKid()), 'ERR_ROTOR_JWT_KID_COMPROMISED');
  });
});

describe('strict JSON agrees with a reference parser', () => {
  /** A minimal recursive-descent reference: valid JSON with no repeated names (after unescaping). */
  function reference(text: string): boolean {
    try {
      JSON.parse(text);
    } catch {
      return false;
    }
    let i = 0;
    const ws = () => {
      while (' \t\n\r'.includes(text[i] ?? 'x')) i++;
    };
    const str = (): string => {
      const start = i;
      i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      return JSON.parse(text.slice(start, i)) as string;
    };
    const value = (): boolean => {
      ws();
      const c = text[i];
      if (c === '{') {
        i++;
        const names = new Set<string>();
        ws();
        if (text[i] === '}') return (i++, true);
        for (;;) {
          ws();
          const name = str();
          if (names.has(name)) return false;
          names.add(name);
          ws();
          i++; // :
          if (!value()) return false;
          ws();
          if (text[i++] === '}') return true;
        }
      }
      if (c === '[') {
        i++;
        ws();
        if (text[i] === ']') return (i++, true);
        for (;;) {
          if (!value()) return false;
          ws();
          if (text[i++] === ']') return true;
        }
      }
      if (c === '"') return (str(), true);
      while (i < text.length && !',}] \t\n\r'.includes(text[i]!)) i++;
      return true;
    };
    return value();
  }

  it('on thousands of random documents with tricky strings, spacing and duplicates', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 8) % n;
    };
    const atoms = [
      '"a"',
      '"b"',
      '"\\u0061"',
      '":"',
      '"\\":"',
      '"\\\\"',
      '" :"',
      '1',
      'true',
      'null',
      '"x:y"',
    ];
    const names = ['"a"', '"b"', '"\\u0061"', '"c:"', '"\\"q"', '"d\\\\"'];
    const sp = () => [' ', '', '', '\n', ''][rnd(5)]!;
    const gen = (depth: number): string => {
      const r = rnd(depth > 2 ? 1 : 3);
      if (r === 0) return atoms[rnd(atoms.length)]!;
      if (r === 1) return `[${Array.from({ length: rnd(3) }, () => gen(depth + 1)).join(',')}]`;
      return `{${Array.from({ length: rnd(4) }, () => `${sp()}${names[rnd(names.length)]}${sp()}:${sp()}${gen(depth + 1)}`).join(',')}}`;
    };
    let duplicates = 0;
    for (let n = 0; n < 5000; n++) {
      const doc = `{"sub":"s",${sp()}"k":${gen(0)}}`;
      const ok = reference(doc);
      if (!ok) duplicates++;
      const result = parseStrictJsonObject(Buffer.from(doc));
      expect(result.ok, doc).toBe(ok);
      if (!result.ok) expect(result.why, doc).toBe('duplicate');
    }
    expect(duplicates).toBeGreaterThan(500);
  });
});

describe('rotor/jwt loads no CLI and no server', () => {
  const dist = join(ROOT, 'dist/sdk/jwt/index.js');
  const tmp = mkdtempSync(join(tmpdir(), 'rotor-sdk-graph-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('importing dist/sdk/jwt/index.js in a fresh process loads neither commander nor src/cli', () => {
    expect(existsSync(dist), 'run `npm run build` first').toBe(true);
    writeFileSync(
      join(tmp, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.ROTOR_LOADED_LOG, result.url + '\\n');
  return result;
}`,
    );
    writeFileSync(
      join(tmp, 'register.mjs'),
      `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
    );
    const log = join(tmp, 'loaded.txt');
    const script = `import { createRequire } from 'node:module';
const sdk = await import(${JSON.stringify(pathToFileURL(dist).href)});
if (typeof sdk.createJwtKeys !== 'function' || typeof sdk.fromEnv !== 'function' || typeof sdk.fromStore !== 'function') process.exit(3);
process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(tmp, 'register.mjs')).href,
        '--input-type=module',
        '-e',
        script,
      ],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ROTOR_LOADED_LOG: log },
        encoding: 'utf8',
      },
    );
    const required = JSON.parse(out) as string[];
    const resolved = readFileSync(log, 'utf8').trim().split('\n');
    expect(resolved.some((u) => u.endsWith('/dist/sdk/jwt/from-store.js'))).toBe(true);
    for (const loaded of [...resolved, ...required]) {
      expect(loaded).not.toMatch(
        /node_modules\/(commander|pino|yaml|zod|express|fastify|kysely)\//,
      );
      expect(loaded).not.toMatch(/\/dist\/(cli|server)\//);
    }
    // better-sqlite3 (native) loads only when fromStore opens a store.
    expect([...resolved, ...required].some((u) => u.includes('better-sqlite3'))).toBe(false);
  });

  it('is the package subpath rotor/jwt', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    expect(pkg.exports['./jwt']).toEqual({
      types: './dist/sdk/jwt/index.d.ts',
      default: './dist/sdk/jwt/index.js',
    });
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('rotor/jwt'); process.stdout.write(typeof m.createJwtKeys)",
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(out).toBe('function');
  });
});
