// JWT verification per CPU-second: Rotor's keyring against jose and fast-jwt, interleaved in
// rounds so background load hits every candidate alike; method: docs/benchmarks.md.
import {
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import { jwtVerify } from 'jose';
import {
  createJwtKeys,
  type JwtKeys,
  type KeySet,
  type KeySource,
  type KeyVersion,
  type RevocationCheck,
} from '../src/sdk/jwt/index.js';
import type { BenchModule, BenchResult } from './harness.js';

const ROUNDS = Number(process.env.JWT_BENCH_ROUNDS ?? 31);
const ROUND_MS = Number(process.env.JWT_BENCH_ROUND_MS ?? 200);
const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'api.example.com';
const TYPE = 'at+jwt';

type Candidate = { name: string; sync?: () => unknown; async?: () => Promise<unknown> };

function staticSource(set: KeySet): KeySource {
  return { load: async () => set, watch: () => () => undefined, close: async () => undefined };
}

/** Ops per CPU-second of one round. */
async function round(c: Candidate): Promise<number> {
  let n = 0;
  const cpu = process.cpuUsage();
  const end = performance.now() + ROUND_MS;
  if (c.sync) {
    const fn = c.sync;
    while (performance.now() < end) {
      for (let i = 0; i < 256; i++) fn();
      n += 256;
    }
  } else {
    const fn = c.async!;
    while (performance.now() < end) {
      for (let i = 0; i < 64; i++) await fn();
      n += 64;
    }
  }
  const used = process.cpuUsage(cpu);
  return n / ((used.user + used.system) / 1e6);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Race {
  /** Median ops per CPU-second of each candidate. */
  median(name: string): number;
  /** Median over rounds of a/b, each round's a and b measured back to back. */
  ratio(a: string, b: string): number;
  /** The spread of that ratio over rounds: [first quartile, third quartile]. */
  spread(a: string, b: string): [number, number];
}

/** Interleaved rounds, the order rotating each round so no candidate always runs first. */
async function race(candidates: Candidate[]): Promise<Race> {
  const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await round(c); // warm-up (JIT)
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[(i + r) % candidates.length]!;
      samples.get(c.name)!.push(await round(c));
    }
  }
  const ratios = (a: string, b: string) =>
    samples
      .get(a)!
      .map((x, i) => x / samples.get(b)![i]!)
      .sort((x, y) => x - y);
  return {
    median: (name) => median(samples.get(name)!),
    ratio: (a, b) => median(ratios(a, b)),
    spread: (a, b) => {
      const r = ratios(a, b);
      return [r[Math.floor(r.length / 4)]!, r[Math.floor((3 * r.length) / 4)]!];
    },
  };
}

interface Setup {
  alg: 'HS256' | 'EdDSA';
  rotor: JwtKeys;
  rotorRevocation: JwtKeys;
  token: string;
  joseKey: KeyObject | Uint8Array;
  fastKey: Buffer | string;
}

async function setup(alg: 'HS256' | 'EdDSA'): Promise<Setup> {
  const now = Date.now();
  const [currentKid, previousKid] = [randomUUID(), randomUUID()];
  let current: KeyVersion;
  let previous: KeyVersion;
  let joseKey: KeyObject | Uint8Array;
  let fastKey: Buffer | string;
  if (alg === 'HS256') {
    const raw = randomBytes(32);
    const prevKey = createSecretKey(raw);
    const curKey = createSecretKey(randomBytes(32));
    current = { kid: currentKid, stage: 'current', alg, verifyKey: curKey, signingKey: curKey };
    previous = {
      kid: previousKid,
      stage: 'previous',
      alg,
      verifyKey: prevKey,
      signingKey: prevKey,
      acceptUntil: now + 3_600_000,
    };
    joseKey = prevKey;
    fastKey = raw;
  } else {
    const prev = generateKeyPairSync('ed25519');
    const cur = generateKeyPairSync('ed25519');
    current = {
      kid: currentKid,
      stage: 'current',
      alg,
      verifyKey: cur.publicKey,
      signingKey: cur.privateKey,
    };
    previous = {
      kid: previousKid,
      stage: 'previous',
      alg,
      verifyKey: prev.publicKey,
      signingKey: prev.privateKey,
      acceptUntil: now + 3_600_000,
    };
    joseKey = prev.publicKey;
    fastKey = prev.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }
  const options = {
    secret: 'JWT_ACCESS_SECRET',
    issuer: ISSUER,
    audience: AUDIENCE,
    type: TYPE,
    maxAge: '15m',
    clockTolerance: 5,
  };
  // The token comes from the key set as it was before the rotation, when `previous` was current.
  const before = createJwtKeys({
    ...options,
    source: staticSource({
      secret: 'JWT_ACCESS_SECRET',
      versions: [{ ...previous, stage: 'current' }],
      retired: new Map(),
      onRotate: 'dual-validate',
      revision: 'before',
    }),
  });
  await before.ready();
  const token = before.sign({
    sub: 'user-8f14e45f',
    sid: 'session-c9f0f895',
    scope: 'read:profile write:profile',
  });
  const after: KeySet = {
    secret: 'JWT_ACCESS_SECRET',
    versions: [current, previous],
    retired: new Map([[randomUUID(), 'retired']]),
    onRotate: 'dual-validate',
    revision: 'after',
  };
  const rotor = createJwtKeys({ ...options, source: staticSource(after) });
  // What rotor/tokens does: per-user and global "valid after" times held in memory.
  const validAfter = new Map<string, number>([['someone-else', Math.floor(now / 1000)]]);
  const globalValidAfter = 0;
  const revocation: RevocationCheck = {
    isRevoked: (claims) => {
      const iat = claims.iat ?? 0;
      return (
        iat < globalValidAfter ||
        (typeof claims.sub === 'string' && iat < (validAfter.get(claims.sub) ?? 0))
      );
    },
  };
  const rotorRevocation = createJwtKeys({ ...options, source: staticSource(after), revocation });
  await Promise.all([rotor.ready(), rotorRevocation.ready()]);
  if (rotor.verify(token).stage !== 'previous')
    throw new Error('the bench token must verify with the previous key');
  return { alg, rotor, rotorRevocation, token, joseKey, fastKey };
}

async function compare(s: Setup): Promise<BenchResult[]> {
  const fast = createVerifier({
    key: s.fastKey,
    algorithms: [s.alg],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    checkTyp: TYPE,
    requiredClaims: ['exp'],
    clockTolerance: 5000,
  });
  const joseOptions = {
    algorithms: [s.alg],
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: TYPE,
    requiredClaims: ['exp'],
    clockTolerance: 5,
  };
  // Each must accept the token, or the race means nothing.
  s.rotor.verify(s.token);
  fast(s.token);
  await jwtVerify(s.token, s.joseKey, joseOptions);
  const token = s.token;
  const verifiers = await race([
    { name: 'rotor', sync: () => s.rotor.verify(token) },
    { name: 'fast-jwt', sync: () => fast(token) },
    { name: 'jose', async: () => jwtVerify(token, s.joseKey, joseOptions) },
  ]);
  const fastest = ['fast-jwt', 'jose'].sort(
    (a, b) => verifiers.median(b) - verifiers.median(a),
  )[0]!;
  const ratio = verifiers.ratio('rotor', fastest);
  const [q1, q3] = verifiers.spread('rotor', fastest);
  const results: BenchResult[] = [
    {
      name: `jwt ${s.alg} jose.jwtVerify (one key)`,
      value: verifiers.median('jose'),
      unit: 'ops/s',
    },
    {
      name: `jwt ${s.alg} fast-jwt verifier (one key)`,
      value: verifiers.median('fast-jwt'),
      unit: 'ops/s',
    },
    {
      name: `jwt ${s.alg} rotor verify (previous kid)`,
      value: verifiers.median('rotor'),
      unit: 'ops/s',
      baseline: { name: fastest, value: verifiers.median(fastest), unit: 'ops/s' },
      ratio,
      target: 'ratio ≥ 1.0 vs the fastest of jose and fast-jwt',
      pass: ratio >= 1.0,
      notes: `ops per CPU-second; ratio = median of ${ROUNDS} paired rounds of ${ROUND_MS} ms (quartiles ${q1.toFixed(3)}–${q3.toFixed(3)})`,
    },
  ];
  const revocation = await race([
    { name: 'off', sync: () => s.rotor.verify(token) },
    { name: 'on', sync: () => s.rotorRevocation.verify(token) },
  ]);
  const revocationRatio = revocation.ratio('on', 'off');
  const [r1, r3] = revocation.spread('on', 'off');
  results.push({
    name: `jwt ${s.alg} rotor verify + revocation check`,
    value: revocation.median('on'),
    unit: 'ops/s',
    baseline: {
      name: 'rotor verify without revocation',
      value: revocation.median('off'),
      unit: 'ops/s',
    },
    ratio: revocationRatio,
    target: 'ratio ≥ 0.9',
    pass: revocationRatio >= 0.9,
    notes: `quartiles ${r1.toFixed(3)}–${r3.toFixed(3)}`,
  });
  return results;
}

const bench: BenchModule = {
  name: 'jwt-verify',
  async run() {
    const results: BenchResult[] = [];
    for (const alg of ['HS256', 'EdDSA'] as const)
      results.push(...(await compare(await setup(alg))));
    return results;
  },
};

export default bench;
