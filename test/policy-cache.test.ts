import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_YAML } from '../src/core/policy/default-policy.js';
import { loadPolicy, parsePolicy } from '../src/core/policy/load-policy.js';
import {
  loadPolicyCached,
  POLICY_CACHE_FILE,
  policyCacheKey,
} from '../src/core/policy/load-policy-cached.js';
import { decodePolicy, encodePolicy } from '../src/core/policy/policy-cache-codec.js';
import type { Policy } from '../src/core/policy/policy.js';
import { ROTATORS } from '../src/rotators/registry.js';

const KINDS = new Set([...ROTATORS.map((r) => r.kind), 'master-key']);
const BUILD = 'test-build';

/** Every part of the Policy type: stages, windows, notify, scheduler, sessions, kind configs. */
const RICH_POLICY = `version: 1
environments: [staging, production]
defaults: { grace: 2h, warn: 3d }
secrets:
  TOKEN:
    kind: random
    cadence: { target: 30d, max: 40d, warn: 5d }
    grace: 1h
    owner: platform
    notes: "used by the API"
    environments: [production]
    maxBytes: 4096
    window: { days: [sat, sun], hours: "22:00-02:00", timezone: Europe/Berlin }
    auto: false
    deploy:
      - name: restart app
        command: ["/bin/true", "--restart"]
      - http: { url: "https://deploy.example.com/{env}", key: { env: HOOK_KEY } }
    smoke:
      - name: smoke
        command: ["/bin/true"]
    health:
      - http: { url: "https://app.example.com/healthz", method: GET }
        retries: 2
        interval: 0s
  JWT_REFRESH_SECRET:
    kind: jwt-hmac
    cadence: 90d
  ROTOR_MASTER_KEY:
    kind: master-key
    cadence: 1y
sessions:
  store: redis
  url: { env: REDIS_URL }
notify:
  webhook:
    - url: { env: SLACK_WEBHOOK_URL }
      key: { env: HOOK_KEY }
  reminders: [1d, 7d, 0d]
  overdueEvery: 12h
scheduler: { retries: 5, backoff: 1h }
`;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function project(yaml: string, withStateDir = true) {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-policy-cache-'));
  dirs.push(dir);
  const file = join(dir, 'rotor.yaml');
  const stateDir = join(dir, '.rotor');
  writeFileSync(file, yaml);
  if (withStateDir) mkdirSync(stateDir);
  const cacheFile = join(stateDir, POLICY_CACHE_FILE);
  const load = () => loadPolicyCached(file, ROTATORS, { stateDir, buildId: BUILD });
  return { dir, file, stateDir, cacheFile, load };
}

/** Every object's prototype, key order and frozen flag, as one comparable text. */
function anatomy(value: unknown): string {
  const walk = (v: unknown): unknown => {
    if (v === undefined) return '<undefined>';
    if (v === null || typeof v !== 'object') return v;
    const frozen = Object.isFrozen(v);
    if (v instanceof Map) return { map: [...v].map(([k, x]) => [walk(k), walk(x)]), frozen };
    if (Array.isArray(v)) return { array: v.map(walk), frozen };
    const proto = Object.getPrototypeOf(v) === Object.prototype ? 'Object' : 'other';
    return { proto, keys: Object.entries(v).map(([k, x]) => [k, walk(x)]), frozen };
  };
  return JSON.stringify(walk(value));
}

function errorOf(fn: () => unknown): { code: string; message: string; details: unknown } {
  try {
    fn();
  } catch (error) {
    const e = error as { code: string; message: string; details: unknown };
    return { code: e.code, message: e.message, details: e.details };
  }
  throw new Error('expected an error');
}

describe('the policy cache codec', () => {
  it.each([
    ['the runbook inventory', DEFAULT_POLICY_YAML],
    ['a policy using every field', RICH_POLICY],
  ])('gives back %s exactly: Maps, key order, undefined fields, frozen objects', (_what, yaml) => {
    const policy = parsePolicy(yaml, 'rotor.yaml', ROTATORS);
    const text = encodePolicy(policy);
    // One frozen object node whose `secrets` is a Map node holding every secret.
    expect(JSON.parse(text!)).toMatchObject({ f: true, o: { secrets: { m: expect.any(Array) } } });
    expect(JSON.parse(text!).o.secrets.m).toHaveLength(policy.secrets.size);
    const back = decodePolicy(text!, KINDS)!;
    expect(back).toEqual(policy);
    expect(anatomy(back)).toBe(anatomy(policy));
    // `rotor apply` compares specs as JSON text: it must not see a change.
    for (const [name, spec] of policy.secrets)
      expect(JSON.stringify(back.secrets.get(name))).toBe(JSON.stringify(spec));
  });

  it('refuses to encode what JSON cannot carry exactly, instead of changing it', () => {
    const base = parsePolicy(DEFAULT_POLICY_YAML, 'rotor.yaml', ROTATORS);
    const withConfig = (config: unknown): Policy => ({
      ...base,
      secrets: new Map([['X', { ...base.secrets.values().next().value!, name: 'X', config }]]),
    });
    for (const config of [() => 1, new Date(0), /x/, Number.NaN, -0, 10n, new Set([1])])
      expect(encodePolicy(withConfig(config))).toBeUndefined();
  });

  it('decodes nothing from damaged, foreign or hand-made text', () => {
    const text = encodePolicy(parsePolicy(DEFAULT_POLICY_YAML, 'rotor.yaml', ROTATORS))!;
    const unknownKind = text.replace('"kind":"random"', '"kind":"no-such-kind"');
    expect(unknownKind).not.toBe(text);
    for (const bad of [
      text.slice(0, -10),
      '{}',
      'null',
      '[]',
      '{"o":{"environments":{"a":["x"],"f":true}},"f":true}',
      text.replace('"f":true', '"f":"yes"'),
      text.replace('{"a":[', '{"x":['),
      unknownKind,
    ])
      expect(decodePolicy(bad, KINDS)).toBeUndefined();
  });
});

describe('loadPolicyCached', () => {
  it('writes the validated policy once and reads it back while rotor.yaml is unchanged', () => {
    const p = project(RICH_POLICY);
    const first = p.load();
    const entry = readFileSync(p.cacheFile, 'utf8');
    expect(statSync(p.cacheFile).mode & 0o777).toBe(0o600);
    const second = p.load();
    expect(second).not.toBe(first);
    expect(anatomy(second)).toBe(anatomy(first));
    expect(readFileSync(p.cacheFile, 'utf8')).toBe(entry);
  });

  it('sees a one-byte edit of the same size and modification time at once', () => {
    const p = project(DEFAULT_POLICY_YAML);
    const second = 1_780_000_000; // a whole second, which every file system stores exactly
    utimesSync(p.file, second, second);
    expect(p.load().secrets.get('JWT_ACCESS_SECRET')!.cadence.targetMs).toBeGreaterThan(0);
    const before = statSync(p.file);
    const edited = DEFAULT_POLICY_YAML.replace(/cadence: (\d)/, (_m, d: string) => {
      return `cadence: ${d === '9' ? '8' : '9'}`;
    });
    expect(edited.length).toBe(DEFAULT_POLICY_YAML.length);
    writeFileSync(p.file, edited);
    utimesSync(p.file, second, second);
    expect(statSync(p.file).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(p.file).size).toBe(before.size);
    expect(anatomy(p.load())).toBe(anatomy(parsePolicy(edited, p.file, ROTATORS)));
  });

  it('reports an invalid edit exactly as loadPolicy does, and keeps reporting it', () => {
    const p = project(DEFAULT_POLICY_YAML);
    p.load();
    const cases = [
      DEFAULT_POLICY_YAML.replace('cadence:', 'cadance:'),
      DEFAULT_POLICY_YAML.replace('version: 1', 'version: 1\nversion: 1'),
      `${DEFAULT_POLICY_YAML}\n  BAD: [`,
    ];
    for (const broken of cases) {
      writeFileSync(p.file, broken);
      const expected = errorOf(() => loadPolicy(p.file, ROTATORS));
      expect(expected.message).toMatch(/rotor\.yaml:\d+:\d+: /);
      expect(errorOf(p.load)).toEqual(expected);
      expect(errorOf(p.load)).toEqual(expected);
    }
    rmSync(p.file);
    expect(errorOf(p.load)).toEqual(errorOf(() => loadPolicy(p.file, ROTATORS)));
  });

  it('ignores a damaged or foreign entry and writes a good one in its place', () => {
    const p = project(DEFAULT_POLICY_YAML);
    const fresh = anatomy(parsePolicy(DEFAULT_POLICY_YAML, p.file, ROTATORS));
    p.load();
    const good = JSON.parse(readFileSync(p.cacheFile, 'utf8')) as Record<string, unknown>;
    const other = project(RICH_POLICY);
    other.load();
    const damaged = [
      readFileSync(p.cacheFile, 'utf8').slice(0, 100),
      'not json',
      JSON.stringify({ ...good, sum: '0'.repeat(64) }),
      JSON.stringify({ ...good, format: 99 }),
      JSON.stringify({ ...good, policy: (good.policy as string).replace('staging', 'stagin') }),
      // An entry for another file (another project's state directory copied here).
      readFileSync(other.cacheFile, 'utf8'),
    ];
    for (const text of damaged) {
      writeFileSync(p.cacheFile, text);
      expect(anatomy(p.load())).toBe(fresh);
      expect(JSON.parse(readFileSync(p.cacheFile, 'utf8'))).toEqual(good);
    }
  });

  it('keys entries by the build and the rotator kinds as well as the bytes', () => {
    const bytes = Buffer.from(DEFAULT_POLICY_YAML);
    const key = policyCacheKey(bytes, '/p/rotor.yaml', ROTATORS, BUILD);
    expect(policyCacheKey(bytes, '/p/rotor.yaml', ROTATORS, 'other')).not.toBe(key);
    expect(policyCacheKey(bytes, '/p/rotor.yaml', ROTATORS.slice(1), BUILD)).not.toBe(key);
    expect(policyCacheKey(bytes, '/q/rotor.yaml', ROTATORS, BUILD)).not.toBe(key);
    expect(
      policyCacheKey(Buffer.from(`${DEFAULT_POLICY_YAML} `), '/p/rotor.yaml', ROTATORS, BUILD),
    ).not.toBe(key);
  });

  it('creates no state directory: without one it only parses', () => {
    const p = project(DEFAULT_POLICY_YAML, false);
    expect(anatomy(p.load())).toBe(anatomy(parsePolicy(DEFAULT_POLICY_YAML, p.file, ROTATORS)));
    expect(() => statSync(p.stateDir)).toThrow();
  });
});
