// The JWT attack matrix: every token a strict verifier must refuse, each refused with its own
// error code, by a keyring built the way an app builds one. Attack tokens are forged byte by
// byte and validly signed, so each carries exactly the defect its test names.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../src/core/clock.js';
import {
  createJwtKeys,
  type JwtKeys,
  type JwtKeysOptions,
  type KeySet,
} from '../src/sdk/jwt/index.js';
import {
  AUDIENCE,
  b64,
  ed,
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
  signSegments,
  START,
} from './helpers/jwt.js';

const HOUR = 3_600_000;
const clock = createManualClock(START);
const current = hmacKey();
const previous = hmacKey();
const expired = hmacKey(); // a previous version whose grace already ended
const standby = edKey();
const retiredKid = randomUUID();
const compromisedKid = randomUUID();
const outsider = hmacKey(); // a key the keyring has never seen

function set(extra: Partial<KeySet> = {}): KeySet {
  return keySet(
    [
      current.version('current'),
      previous.version('previous', START + HOUR),
      expired.version('previous', START - 1),
      standby.version('standby'),
    ],
    {
      retired: new Map([
        [retiredKid, 'retired'],
        [compromisedKid, 'compromised'],
      ]),
      ...extra,
    },
  );
}

async function keyring(
  options: Partial<JwtKeysOptions> = {},
  extra: Partial<KeySet> = {},
): Promise<JwtKeys> {
  const keys = createJwtKeys({
    secret: 'JWT_ACCESS_SECRET',
    source: mutableSource(set(extra)),
    issuer: ISSUER,
    audience: AUDIENCE,
    type: 'at+jwt',
    maxAge: '15m',
    clockTolerance: 30,
    clock,
    ...options,
  });
  await keys.ready();
  return keys;
}

const header = (extra: Record<string, unknown> = {}) => ({
  alg: 'HS256',
  kid: current.kid,
  typ: 'at+jwt',
  ...extra,
});
const good = (claims: Record<string, unknown> = {}, h: Record<string, unknown> = {}) =>
  forge(header(h), goodClaims(claims), hs(current.key));

let keys: JwtKeys;
beforeAll(async () => {
  keys = await keyring();
});
beforeEach(() => clock.set(START));

/** The issue's list of rejections, each with the one code it must get. */
const REQUIRED: Record<string, string> = {
  'alg none': 'ERR_ROTOR_JWT_ALG_NONE',
  'alg not allowed': 'ERR_ROTOR_JWT_ALG_NOT_ALLOWED',
  'key type confusion': 'ERR_ROTOR_JWT_KEY_TYPE_MISMATCH',
  'missing exp': 'ERR_ROTOR_JWT_EXP_MISSING',
  expired: 'ERR_ROTOR_JWT_EXPIRED',
  'future nbf': 'ERR_ROTOR_JWT_NOT_YET_VALID',
  issuer: 'ERR_ROTOR_JWT_ISSUER_MISMATCH',
  audience: 'ERR_ROTOR_JWT_AUDIENCE_MISMATCH',
  typ: 'ERR_ROTOR_JWT_TYPE_MISMATCH',
  crit: 'ERR_ROTOR_JWT_CRIT_UNSUPPORTED',
  duplicate: 'ERR_ROTOR_JWT_DUPLICATE_MEMBER',
  base64: 'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
  malformed: 'ERR_ROTOR_JWT_MALFORMED',
  'too large': 'ERR_ROTOR_JWT_TOKEN_TOO_LARGE',
  'kid missing': 'ERR_ROTOR_JWT_KID_MISSING',
  'kid unknown': 'ERR_ROTOR_JWT_KID_UNKNOWN',
  'kid oversize': 'ERR_ROTOR_JWT_KID_OVERSIZE',
  'kid malformed': 'ERR_ROTOR_JWT_KID_MALFORMED',
  'kid retired': 'ERR_ROTOR_JWT_KID_RETIRED',
  'kid compromised': 'ERR_ROTOR_JWT_KID_COMPROMISED',
  'key reference': 'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
  signature: 'ERR_ROTOR_JWT_SIGNATURE_INVALID',
  'claim type': 'ERR_ROTOR_JWT_CLAIM_INVALID',
  revoked: 'ERR_ROTOR_JWT_REVOKED',
};
/** What each kind of rejection actually produced in the tests below. */
const observed = new Map<string, Set<string>>();
type Rejects = (kind: keyof typeof REQUIRED, token: string, code: string, message?: RegExp) => void;
/** `rejects` against keyring `k` instead of the suite's. */
function rejectsBy(k: JwtKeys): Rejects {
  return (kind, token, code, message) => {
    expectRejection(() => k.verify(token), code, message);
    if (!observed.has(kind)) observed.set(kind, new Set());
    observed.get(kind)!.add(code);
  };
}
const rejects: Rejects = (...args) => rejectsBy(keys)(...args);

describe('the baseline: what a valid token looks like', () => {
  it('accepts a well-formed token from the current key, and one from the previous key in grace', () => {
    expect(keys.verify(good())).toMatchObject({
      kid: current.kid,
      stage: 'current',
      claims: { sub: 'user-1' },
    });
    const old = forge(header({ kid: previous.kid }), goodClaims(), hs(previous.key));
    expect(keys.verify(old)).toMatchObject({ kid: previous.kid, stage: 'previous' });
  });

  it('accepts a token from the standby key (published before it signs)', () => {
    const token = forge(
      { alg: 'EdDSA', kid: standby.kid, typ: 'at+jwt' },
      goodClaims(),
      ed(standby.privateKey),
    );
    expect(keys.verify(token)).toMatchObject({ kid: standby.kid, stage: 'standby' });
  });
});

describe('algorithms', () => {
  it('refuses alg none (any spelling, with or without a signature)', () => {
    const claims = b64(JSON.stringify(goodClaims()));
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      rejects(
        'alg none',
        `${b64(JSON.stringify(header({ alg })))}.${claims}.`,
        'ERR_ROTOR_JWT_ALG_NONE',
        /alg none/,
      );
      rejects(
        'alg none',
        forge(header({ alg }), goodClaims(), hs(current.key)),
        'ERR_ROTOR_JWT_ALG_NONE',
      );
    }
  });

  it('refuses algorithms outside the allow-list, including ones the key could compute', async () => {
    const only256 = await keyring({ algorithms: ['HS256'] });
    rejectsBy(only256)(
      'alg not allowed',
      forge(header({ alg: 'HS512' }), goodClaims(), hs(current.key, 'sha512')),
      'ERR_ROTOR_JWT_ALG_NOT_ALLOWED',
      /HS512 is not allowed/,
    );
    for (const alg of ['RS256', 'PS256', 'ES384', 'HS256 ', 'hs256', '']) {
      rejects(
        'alg not allowed',
        forge(header({ alg }), goodClaims(), hs(current.key)),
        'ERR_ROTOR_JWT_ALG_NOT_ALLOWED',
      );
    }
    // The default allow-list is the algorithms of the loaded keys: HS384 is not among them.
    rejects(
      'alg not allowed',
      forge(header({ alg: 'HS384' }), goodClaims(), hs(current.key, 'sha384')),
      'ERR_ROTOR_JWT_ALG_NOT_ALLOWED',
    );
    expectRejection(
      () =>
        createJwtKeys({
          secret: 'X',
          source: mutableSource(set()),
          issuer: ISSUER,
          audience: AUDIENCE,
          maxAge: 60,
          algorithms: ['none'],
        }),
      'ERR_ROTOR_JWT_OPTIONS_INVALID',
    );
  });

  it('refuses an HMAC token checked against a public key (the key decides the algorithm, not the header)', () => {
    // The classic confusion: HMAC keyed with the public key's bytes, under the asymmetric key's kid.
    const pem = standby.publicKey.export({ type: 'spki', format: 'pem' });
    const raw = standby.publicKey.export({ format: 'jwk' }).x!;
    for (const secret of [Buffer.from(pem), Buffer.from(raw)]) {
      rejects(
        'key type confusion',
        forge({ alg: 'HS256', kid: standby.kid, typ: 'at+jwt' }, goodClaims(), hs(secret)),
        'ERR_ROTOR_JWT_KEY_TYPE_MISMATCH',
        /is for EdDSA; the token says HS256/,
      );
    }
  });

  it('refuses an EdDSA token checked against an HMAC key, and an HS384 token on an HS256 key', async () => {
    const attacker = edKey();
    rejects(
      'key type confusion',
      forge(
        { alg: 'EdDSA', kid: current.kid, typ: 'at+jwt' },
        goodClaims(),
        ed(attacker.privateKey),
      ),
      'ERR_ROTOR_JWT_KEY_TYPE_MISMATCH',
      /is for HS256; the token says EdDSA/,
    );
    const both = await keyring({ algorithms: ['HS256', 'HS384', 'EdDSA'] });
    rejectsBy(both)(
      'key type confusion',
      forge(header({ alg: 'HS384' }), goodClaims(), hs(current.key, 'sha384')),
      'ERR_ROTOR_JWT_KEY_TYPE_MISMATCH',
      /is for HS256/,
    );
  });
});

describe('claims', () => {
  it('requires exp by default, and accepts its absence only when told', async () => {
    const { exp: _exp, ...noExp } = goodClaims();
    const token = forge(header(), noExp, hs(current.key));
    rejects('missing exp', token, 'ERR_ROTOR_JWT_EXP_MISSING', /no exp/);
    const lenient = await keyring({ requireExp: false });
    expect(lenient.verify(token).claims.sub).toBe('user-1');
  });

  it('refuses expired tokens beyond the clock tolerance and accepts them within it', () => {
    const token = good({ exp: NOW_S + 60 });
    clock.set(START + 60_000 + 29_000);
    expect(keys.verify(token).claims.exp).toBe(NOW_S + 60);
    clock.set(START + 60_000 + 30_000);
    rejects('expired', token, 'ERR_ROTOR_JWT_EXPIRED', /expired/);
  });

  it('refuses a future nbf (and iat) beyond the clock tolerance and accepts it within it', () => {
    expect(keys.verify(good({ nbf: NOW_S + 30 })).claims.nbf).toBe(NOW_S + 30);
    rejects('future nbf', good({ nbf: NOW_S + 31 }), 'ERR_ROTOR_JWT_NOT_YET_VALID', /nbf/);
    rejects('future nbf', good({ iat: NOW_S + 3600 }), 'ERR_ROTOR_JWT_NOT_YET_VALID', /iat/);
  });

  it('refuses time claims that are not numbers', () => {
    for (const claims of [
      { exp: String(NOW_S + 600) },
      { nbf: 'now' },
      { iat: null },
      { exp: [NOW_S + 600] },
    ]) {
      rejects('claim type', good(claims), 'ERR_ROTOR_JWT_CLAIM_INVALID', /is not a number/);
    }
  });

  it('refuses a wrong or missing iss', () => {
    rejects('issuer', good({ iss: 'https://evil.example.com' }), 'ERR_ROTOR_JWT_ISSUER_MISMATCH');
    rejects('issuer', good({ iss: undefined }), 'ERR_ROTOR_JWT_ISSUER_MISMATCH');
    rejects('issuer', good({ iss: [ISSUER] }), 'ERR_ROTOR_JWT_ISSUER_MISMATCH');
  });

  it('refuses a wrong or missing aud, and accepts a list that holds ours', () => {
    rejects('audience', good({ aud: 'other-api' }), 'ERR_ROTOR_JWT_AUDIENCE_MISMATCH');
    rejects('audience', good({ aud: undefined }), 'ERR_ROTOR_JWT_AUDIENCE_MISMATCH');
    rejects('audience', good({ aud: ['other-api', 42] }), 'ERR_ROTOR_JWT_AUDIENCE_MISMATCH');
    expect(keys.verify(good({ aud: ['other-api', AUDIENCE] })).claims.aud).toEqual([
      'other-api',
      AUDIENCE,
    ]);
    expectRejection(
      () => keys.verify(good(), { audience: 'admin-api' }),
      'ERR_ROTOR_JWT_AUDIENCE_MISMATCH',
    );
  });

  it('refuses an access token presented as a refresh token, and the reverse', async () => {
    const refresh = await keyring({ type: 'refresh+jwt' });
    const access = keys.sign({ sub: 'user-1' });
    const refreshToken = refresh.sign({ sub: 'user-1' });
    rejectsBy(refresh)(
      'typ',
      access,
      'ERR_ROTOR_JWT_TYPE_MISMATCH',
      /typ is at\+jwt; expected refresh\+jwt/,
    );
    rejects('typ', refreshToken, 'ERR_ROTOR_JWT_TYPE_MISMATCH', /expected at\+jwt/);
    rejects('typ', good({}, { typ: undefined }), 'ERR_ROTOR_JWT_TYPE_MISMATCH', /missing/);
    expect(refresh.verify(refreshToken).header.typ).toBe('refresh+jwt');
    // RFC 8725: compared case-insensitively, with or without application/.
    expect(keys.verify(good({}, { typ: 'application/AT+JWT' })).header.typ).toBe(
      'application/AT+JWT',
    );
    expectRejection(
      () => keys.verify(access, { type: 'refresh+jwt' }),
      'ERR_ROTOR_JWT_TYPE_MISMATCH',
    );
  });
});

describe('header members', () => {
  it('refuses unknown crit extensions', () => {
    rejects('crit', good({}, { crit: ['exp'], exp: 1 }), 'ERR_ROTOR_JWT_CRIT_UNSUPPORTED', /crit/);
    rejects('crit', good({}, { crit: ['b64'], b64: false }), 'ERR_ROTOR_JWT_CRIT_UNSUPPORTED');
    rejects('crit', good({}, { crit: [] }), 'ERR_ROTOR_JWT_CRIT_UNSUPPORTED');
  });

  describe('jku, x5u, jwk and x5c: refused and never followed', () => {
    let server: Server;
    let url: string;
    let requests = 0;
    beforeAll(async () => {
      server = createServer((_req, res) => {
        requests++;
        res.end('{"keys":[]}');
      });
      await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((done) => server.close(() => done())));

    it('refuses each of them and fetches nothing', async () => {
      const attacker = edKey();
      const jwk = attacker.publicKey.export({ format: 'jwk' });
      rejects(
        'key reference',
        good({}, { jku: `${url}/jwks.json` }),
        'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
        /\(jku\); keys come only from the keyring/,
      );
      rejects(
        'key reference',
        good({}, { x5u: `${url}/cert.pem` }),
        'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
        /x5u/,
      );
      rejects(
        'key reference',
        forge({ alg: 'EdDSA', kid: current.kid, jwk }, goodClaims(), ed(attacker.privateKey)),
        'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
        /jwk/,
      );
      rejects(
        'key reference',
        good({}, { x5c: ['MIIBszCCAVmgAwIBAgIU'] }),
        'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
        /x5c/,
      );
      rejects('key reference', good({}, { jku: null }), 'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED');
      await new Promise((r) => setTimeout(r, 100));
      expect(requests).toBe(0);
    });
  });

  it('refuses a header or payload that is not one UTF-8 JSON object', () => {
    const claims = b64(JSON.stringify(goodClaims()));
    rejects(
      'malformed',
      signSegments(b64('["HS256"]'), claims, hs(current.key)),
      'ERR_ROTOR_JWT_MALFORMED',
      /header is not a JSON object/,
    );
    rejects(
      'malformed',
      signSegments(b64('{"alg":"HS256"'), claims, hs(current.key)),
      'ERR_ROTOR_JWT_MALFORMED',
      /header is not JSON/,
    );
    rejects(
      'malformed',
      signSegments(
        b64(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
        claims,
        hs(current.key),
      ),
      'ERR_ROTOR_JWT_MALFORMED',
      /not valid UTF-8/,
    );
    rejects(
      'malformed',
      forge(header(), '"just a string"', hs(current.key)),
      'ERR_ROTOR_JWT_MALFORMED',
      /payload is not a JSON object/,
    );
    rejects(
      'malformed',
      forge({ kid: current.kid }, goodClaims(), hs(current.key)),
      'ERR_ROTOR_JWT_MALFORMED',
      /no alg/,
    );
  });
});

describe('duplicate members (JSON.parse would silently keep the last one)', () => {
  const sign = (h: string, p: string) => signSegments(b64(h), b64(p), hs(current.key));
  const h = JSON.stringify(header());
  const p = JSON.stringify(goodClaims());

  it('refuses a duplicate in the header', () => {
    rejects(
      'duplicate',
      sign(`{"alg":"HS256","alg":"HS256","kid":"${current.kid}","typ":"at+jwt"}`, p),
      'ERR_ROTOR_JWT_DUPLICATE_MEMBER',
      /header repeats a member/,
    );
    rejects(
      'duplicate',
      sign(`{"alg":"none","kid":"${current.kid}","alg":"HS256","typ":"at+jwt"}`, p),
      'ERR_ROTOR_JWT_DUPLICATE_MEMBER',
    );
    rejects(
      'duplicate',
      sign(`{"alg":"HS256","kid":"${randomUUID()}","kid":"${current.kid}","typ":"at+jwt"}`, p),
      'ERR_ROTOR_JWT_DUPLICATE_MEMBER',
    );
  });

  it('refuses a duplicate in the payload, at any depth and however it is spelled', () => {
    const claims = p.slice(1, -1);
    for (const payload of [
      `{${claims},"sub":"admin"}`,
      `{"sub":"admin",${claims}}`,
      `{${claims},"sub" : "admin"}`,
      `{${claims},"\\u0073ub":"admin"}`,
      `{${claims},"ctx":{"role":"user","role":"admin"}}`,
      `{${claims},"list":[{"a":1},{"b":1,"b":2}]}`,
      `{${claims},"x":{"y":{"z":1}},"x":2}`,
      `{${claims},"note":"a\\":b","sub":"admin"}`,
    ]) {
      rejects(
        'duplicate',
        sign(h, payload),
        'ERR_ROTOR_JWT_DUPLICATE_MEMBER',
        /payload repeats a member/,
      );
    }
  });

  it('does not mistake colons and quotes inside strings for members', () => {
    const claims = p.slice(1, -1);
    for (const payload of [
      `{${claims},"url":"https://x:1/a\\":b","k":":v"}`,
      `{${claims},"q":"\\\\","r":"\\"\\":"}`,
      `{ ${claims} , "s" : [ {"a" : 1} , {"a":2} ] }`,
    ]) {
      expect(keys.verify(sign(h, payload)).claims.sub).toBe('user-1');
    }
  });
});

describe('base64url must be canonical', () => {
  const h = b64(JSON.stringify(header()));
  /** A payload segment whose length is 2 or 3 mod 4, so it has unused trailing bits. */
  function payloadWithTrailingBits(): string {
    for (let pad = 0; ; pad++) {
      const seg = b64(JSON.stringify(goodClaims({ pad: 'x'.repeat(pad) })));
      if (seg.length % 4 === 2) return seg;
    }
  }

  it('refuses padding, +, /, stray characters and non-ASCII', () => {
    const p = payloadWithTrailingBits();
    const token = signSegments(h, p, hs(current.key));
    rejects(
      'base64',
      signSegments(h, `${p}==`, hs(current.key)),
      'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
      /padding '='/,
    );
    rejects('base64', `${token}=`, 'ERR_ROTOR_JWT_BASE64_NONCANONICAL', /padding/);
    const std = Buffer.from(
      JSON.stringify(goodClaims({ blob: '\u00fb\u00ff\u00fe>>>???' })),
    ).toString('base64');
    expect(std).toMatch(/[+/]/);
    rejects(
      'base64',
      signSegments(h, std.replace(/=+$/, ''), hs(current.key)),
      'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
      /'[+/]'/,
    );
    for (const stray of [' ', '\n', '*', '%', 'é', '\u0000']) {
      rejects(
        'base64',
        signSegments(h, `${p.slice(0, 10)}${stray}${p.slice(10)}`, hs(current.key)),
        'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
      );
    }
  });

  it('refuses non-zero trailing bits and impossible lengths', () => {
    const p = payloadWithTrailingBits();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(p.at(-1)!);
    expect(last & 0x0f).toBe(0);
    const sloppy = `${p.slice(0, -1)}${alphabet[last | 1]}`;
    expect(Buffer.from(sloppy, 'base64url').equals(Buffer.from(p, 'base64url'))).toBe(true); // same bytes, other spelling
    rejects(
      'base64',
      signSegments(h, sloppy, hs(current.key)),
      'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
      /trailing bits/,
    );
    const impossible = `${p}${'A'.repeat((5 - (p.length % 4)) % 4)}`;
    expect(impossible.length % 4).toBe(1);
    rejects(
      'base64',
      signSegments(h, impossible, hs(current.key)),
      'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
      /impossible length/,
    );
    // A signature with non-zero trailing bits verifies nowhere.
    const token = good();
    const sig = token.slice(token.lastIndexOf('.') + 1);
    const sigLast = alphabet.indexOf(sig.at(-1)!);
    rejects(
      'base64',
      `${token.slice(0, token.lastIndexOf('.') + 1)}${sig.slice(0, -1)}${alphabet[sigLast | 1]}`,
      'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
    );
  });

  it('refuses a wrong number of segments and empty header or payload', () => {
    const token = good();
    const [a, b, c] = token.split('.');
    rejects(
      'malformed',
      `${a}.${b}`,
      'ERR_ROTOR_JWT_MALFORMED',
      /2 segment\(s\), a compact JWS has 3/,
    );
    rejects('malformed', `${token}.${c}`, 'ERR_ROTOR_JWT_MALFORMED', /4 segment/);
    rejects('malformed', `${a}.${b}.${c}.${c}.${c}`, 'ERR_ROTOR_JWT_MALFORMED', /5 segment/);
    rejects('malformed', `.${b}.${c}`, 'ERR_ROTOR_JWT_MALFORMED', /header segment is empty/);
    rejects('malformed', `${a}..${c}`, 'ERR_ROTOR_JWT_MALFORMED', /payload segment is empty/);
    rejects('malformed', '', 'ERR_ROTOR_JWT_MALFORMED');
    expectRejection(
      () => keys.verify(42 as unknown as string),
      'ERR_ROTOR_JWT_MALFORMED',
      /not a string/,
    );
  });
});

describe('size', () => {
  it('refuses tokens over the limit before any parsing', () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      rejects(
        'too large',
        'x'.repeat(8193),
        'ERR_ROTOR_JWT_TOKEN_TOO_LARGE',
        /8193 bytes; the limit is 8192/,
      );
      rejects('too large', `${'!'.repeat(9000)}.a.b`, 'ERR_ROTOR_JWT_TOKEN_TOO_LARGE');
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
    const big = good({ blob: 'x'.repeat(7000) });
    expect(big.length).toBeGreaterThan(8192);
    rejects('too large', big, 'ERR_ROTOR_JWT_TOKEN_TOO_LARGE');
    const atLimit = good({ blob: 'x'.repeat(5800) });
    expect(atLimit.length).toBeLessThanOrEqual(8192);
    expect(keys.verify(atLimit).claims.sub).toBe('user-1');
  });

  it('honours maxTokenBytes', async () => {
    const small = await keyring({ maxTokenBytes: 256 });
    const token = good();
    expect(token.length).toBeGreaterThan(256);
    expectRejection(() => small.verify(token), 'ERR_ROTOR_JWT_TOKEN_TOO_LARGE', /limit is 256/);
    expectRejection(
      () => small.sign({ sub: 'user-1', blob: 'x'.repeat(300) }),
      'ERR_ROTOR_JWT_OPTIONS_INVALID',
      /over maxTokenBytes/,
    );
  });
});

describe('kid', () => {
  it('refuses a missing kid', () => {
    rejects('kid missing', good({}, { kid: undefined }), 'ERR_ROTOR_JWT_KID_MISSING', /no kid/);
  });

  it('refuses unknown, oversize and odd kids', () => {
    rejects(
      'kid unknown',
      forge(header({ kid: outsider.kid }), goodClaims(), hs(outsider.key)),
      'ERR_ROTOR_JWT_KID_UNKNOWN',
      new RegExp(`no key ${outsider.kid}`),
    );
    rejects(
      'kid oversize',
      good({}, { kid: 'a'.repeat(65) }),
      'ERR_ROTOR_JWT_KID_OVERSIZE',
      /65 characters/,
    );
    rejects(
      'kid oversize',
      good({}, { kid: `${current.kid}${'0'.repeat(4000)}` }),
      'ERR_ROTOR_JWT_KID_OVERSIZE',
    );
    for (const kid of [
      '../../etc/passwd',
      current.kid.toUpperCase(),
      `${current.kid} `,
      '',
      'key-1',
      `${current.kid.slice(0, -1)}g`,
    ]) {
      rejects(
        'kid malformed',
        good({}, { kid }),
        'ERR_ROTOR_JWT_KID_MALFORMED',
        /not a Rotor version id/,
      );
    }
    for (const kid of [42, null, [current.kid], { id: current.kid }]) {
      rejects('kid malformed', good({}, { kid }), 'ERR_ROTOR_JWT_KID_MALFORMED', /not a string/);
    }
  });

  it('refuses the kid of a retired version and of a compromised one, each with its own code', () => {
    rejects(
      'kid retired',
      good({}, { kid: retiredKid }),
      'ERR_ROTOR_JWT_KID_RETIRED',
      /is retired/,
    );
    rejects(
      'kid compromised',
      good({}, { kid: compromisedKid }),
      'ERR_ROTOR_JWT_KID_COMPROMISED',
      /compromised and revoked/,
    );
  });

  it('refuses a previous key once its grace window has ended', () => {
    const token = forge(header({ kid: previous.kid }), goodClaims(), hs(previous.key));
    expect(keys.verify(token).stage).toBe('previous');
    clock.set(START + HOUR);
    rejects(
      'kid retired',
      forge(
        header({ kid: previous.kid }),
        goodClaims({ iat: NOW_S + 3600, exp: NOW_S + 4000 }),
        hs(previous.key),
      ),
      'ERR_ROTOR_JWT_KID_RETIRED',
      /grace window over/,
    );
    rejects(
      'kid retired',
      forge(header({ kid: expired.kid }), goodClaims(), hs(expired.key)),
      'ERR_ROTOR_JWT_KID_RETIRED',
    );
  });

  it('refuses previous keys at once when the secret is on-rotate: invalidate', async () => {
    const invalidate = await keyring({}, { onRotate: 'invalidate' });
    rejectsBy(invalidate)(
      'kid retired',
      forge(header({ kid: previous.kid }), goodClaims(), hs(previous.key)),
      'ERR_ROTOR_JWT_KID_RETIRED',
      /on-rotate: invalidate/,
    );
    expect(invalidate.verify(good()).stage).toBe('current');
  });
});

describe('signatures', () => {
  it('refuses a bad signature, an empty one and one from another key under our kid', () => {
    const token = good();
    const head = token.slice(0, token.lastIndexOf('.'));
    rejects(
      'signature',
      `${head}.${forge(header(), goodClaims(), hs(outsider.key)).split('.')[2]}`,
      'ERR_ROTOR_JWT_SIGNATURE_INVALID',
      /does not verify/,
    );
    rejects('signature', `${head}.`, 'ERR_ROTOR_JWT_SIGNATURE_INVALID');
    rejects('signature', `${head}.${b64(Buffer.alloc(32))}`, 'ERR_ROTOR_JWT_SIGNATURE_INVALID');
    rejects('signature', `${head}.${b64(Buffer.alloc(64))}`, 'ERR_ROTOR_JWT_SIGNATURE_INVALID');
    const edToken = forge(
      { alg: 'EdDSA', kid: standby.kid, typ: 'at+jwt' },
      goodClaims(),
      ed(edKey().privateKey),
    );
    rejects('signature', edToken, 'ERR_ROTOR_JWT_SIGNATURE_INVALID');
  });

  it('signatures are compared before claims are read', async () => {
    const revocation = { isRevoked: vi.fn(() => false) };
    const forged = [
      forge(header(), goodClaims({ exp: NOW_S - 3600 }), hs(outsider.key)), // expired
      forge(header(), goodClaims({ iss: 'evil' }), hs(outsider.key)),
      forge(header(), '{"sub":"a","sub":"admin"}', hs(outsider.key)), // duplicate
      forge(header(), '{not json', hs(outsider.key)),
      forge(header({ typ: 'refresh+jwt' }), goodClaims(), hs(outsider.key)),
    ];
    const k = await keyring({ revocation });
    const parse = vi.spyOn(JSON, 'parse');
    try {
      for (const token of forged) {
        parse.mockClear();
        rejectsBy(k)('signature', token, 'ERR_ROTOR_JWT_SIGNATURE_INVALID', /does not verify/);
        expect(parse).toHaveBeenCalledTimes(1); // the header only; the payload was never parsed
      }
      expect(revocation.isRevoked).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});

describe('revocation', () => {
  it('asks the revocation check last, with the verified claims, and fails closed if it throws', async () => {
    const revoked = new Set(['user-2']);
    const isRevoked = vi.fn((claims: { sub?: string }) => revoked.has(claims.sub ?? ''));
    const k = await keyring({ revocation: { isRevoked } });
    expect(k.verify(good()).claims.sub).toBe('user-1');
    expect(isRevoked).toHaveBeenLastCalledWith(
      expect.objectContaining({ sub: 'user-1', iss: ISSUER }),
    );
    rejectsBy(k)('revoked', good({ sub: 'user-2' }), 'ERR_ROTOR_JWT_REVOKED', /revoked/);
    isRevoked.mockClear();
    expectRejection(() => k.verify(good({ exp: NOW_S - 3600 })), 'ERR_ROTOR_JWT_EXPIRED');
    expect(isRevoked).not.toHaveBeenCalled();
    const throwing = await keyring({
      revocation: {
        isRevoked: () => {
          throw new Error('cache not loaded');
        },
      },
    });
    expectRejection(() => throwing.verify(good()), 'ERR_ROTOR_JWT_REVOKED');
  });
});

describe('the matrix as a whole', () => {
  it('gives each kind of rejection its own code, and was exercised for every kind', () => {
    const codes = Object.values(REQUIRED);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [kind, code] of Object.entries(REQUIRED)) {
      expect([...(observed.get(kind) ?? [])], kind).toEqual([code]);
    }
  });
});
