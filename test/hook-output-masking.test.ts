// Hook output never reaches audit notes, the rotations table or API answers verbatim: only the
// exit code, the step's name and a bounded tail in which every run of 8+ characters of a current,
// previous or new value (raw, base64, base64url, hex, URL-encoded) is masked. The hook here prints
// prefixes, suffixes and middles of $ROTOR_SECRET in each encoding, then fails; the rotation goes
// through the HTTP API (502), rolls back, redeploys the restored value (which fails the same way)
// and retires the abandoned version.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { applyPolicy } from '../src/core/apply/apply-policy.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { defineRotator } from '../src/core/rotator/rotator-contract.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createOutputMasker, MASK } from '../src/core/rotation/stages/mask-output.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { openVersion } from '../src/core/vault/versions.js';
import { buildApp } from '../src/server/app.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';

const VALUE = 'Zq3+x/Yw8KpL2mN9vB4c&T7s=R1u%hE6jD0fG5aW!';

/** The pieces a careless hook prints: each is 8+ characters of the value or of an encoding of it. */
function piecesOf(value: string): Record<string, string> {
  const b = Buffer.from(value);
  return {
    prefix: value.slice(0, 24),
    suffix: value.slice(-12),
    middle: value.slice(5, 17),
    middleOdd: value.slice(7, 16),
    base64: b.toString('base64'),
    base64Middle1: b.subarray(1, 19).toString('base64'),
    base64Middle2: b.subarray(2, 20).toString('base64'),
    base64url: b.subarray(3, 27).toString('base64url'),
    hex: b.subarray(3, 15).toString('hex'),
    hexOdd: b.subarray(4, 11).toString('hex').slice(1),
    HEX: b.subarray(6, 18).toString('hex').toUpperCase(),
    urlEncoded: encodeURIComponent(value.slice(2, 22)),
    urlEncodedLower: encodeURIComponent(value.slice(2, 22)).replace(/%[0-9A-F]{2}/g, (m) =>
      m.toLowerCase(),
    ),
  };
}

describe('createOutputMasker', () => {
  const mask = createOutputMasker([VALUE]);
  for (const [name, piece] of Object.entries(piecesOf(VALUE))) {
    test(`masks a ${name} (${piece.length} characters) wherever it stands in the text`, () => {
      for (const text of [piece, `before ${piece} after`, `x${piece}`, `${piece}\n`]) {
        const out = mask(text);
        expect(out).toContain(MASK);
        expect(out).not.toContain(piece);
        // No 8-character part of the piece survives either.
        for (let i = 0; i + 8 <= piece.length; i++)
          expect(out).not.toContain(piece.slice(i, i + 8));
      }
      expect(mask(`deploy failed: ${piece}; exit 3`)).toMatch(
        /^deploy failed: .*\[redacted\].*; exit 3$/,
      );
    });
  }

  test('masks pieces of every value it was given (current, previous, new), not only the first', () => {
    const others = ['0123456789abcdefOLDVALUE', 'postgres://app:S3cr3t%2Fpass@db:5432/app'];
    const m = createOutputMasker([VALUE, ...others]);
    expect(m('old: 89abcdefOLD!')).not.toContain('89abcdefOLD');
    expect(m('pw S3cr3t/pass')).not.toContain('S3cr3t/pass');
    expect(m('pw S3cr3t%2Fpass')).not.toContain('S3cr3t%2Fpass');
  });

  test('a URL value is masked by its password (and query), not by its host or user', () => {
    const url =
      'postgres://rotor_app_v2:Pw-9f3Kq2Lz8Xv1Rt6Yb@db.internal:5432/billing?sslpassword=Qx7Lm2Np9Rs4';
    const m = createOutputMasker([url]);
    expect(m('could not connect to db.internal:5432 as rotor_app_v2')).toBe(
      'could not connect to db.internal:5432 as rotor_app_v2',
    );
    expect(m(`login with Pw-9f3Kq2Lz8 failed`)).not.toContain('Pw-9f3Kq2Lz8');
    expect(m(`dsn ${url}`)).not.toContain('Pw-9f3Kq2Lz8Xv1Rt6Yb');
    expect(m(`ssl Qx7Lm2Np9Rs4`)).not.toContain('Qx7Lm2Np9Rs4');
  });

  test('leaves text that shares fewer than 8 characters with a value alone', () => {
    const text = `exit code 3: ${VALUE.slice(0, 7)} is not a leak of 8; deploy of app finished`;
    expect(mask(text)).toBe(text);
    expect(createOutputMasker([])('anything at all')).toBe('anything at all');
  });

  test('a short value is masked where it appears whole', () => {
    expect(createOutputMasker(['hunter2'])('password hunter2 printed')).toBe(
      `password ${MASK} printed`,
    );
  });
});

const HOOK = `
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
const value = process.env.ROTOR_SECRET;
const pieces = (${piecesOf.toString()})(value);
appendFileSync(process.env.PRINTED, JSON.stringify(pieces) + '\\n');
console.error('token prefix: ' + pieces.prefix + ' suffix=' + pieces.suffix + ' mid[' + pieces.middle + '] odd ' + pieces.middleOdd);
console.log('b64 ' + pieces.base64Middle1 + ' / ' + pieces.base64Middle2 + ' b64url ' + pieces.base64url);
console.log('hex ' + pieces.hex + ' ' + pieces.hexOdd + ' HEX ' + pieces.HEX + ' url ' + pieces.urlEncoded + ' ' + pieces.urlEncodedLower);
// A hook may know other values too (the app's old config): it prints those last.
const known = existsSync(process.env.KNOWN) ? readFileSync(process.env.KNOWN, 'utf8').split('\\n').filter(Boolean) : [];
for (const other of known.filter((k) => k !== value)) {
  const o = (${piecesOf.toString()})(other);
  console.log('other ' + o.prefix + ' ' + o.base64Middle1 + ' ' + o.hex);
}
appendFileSync(process.env.KNOWN, value + '\\n');
process.exit(3);
`;

const POLICY = `version: 1
environments: [production]
secrets:
  API_SIGNING_KEY:
    kind: random
    cadence: 30d
    grace: 1h
    config: { bytes: 32, encoding: base64 }
`;

const HOOKED_POLICY = `${POLICY}    deploy:
      - name: restart billing
        command: ["${process.execPath}", "hook.mjs"]
`;

describe('a failing deploy hook that prints parts of the value', () => {
  let p: TestProject;
  let answer: { status: number; body: string };
  let printed: Record<string, string>[];
  let values: string[];
  let audit: { action: string; notes: string; details: unknown }[];
  let errorMessages: string[];

  beforeAll(async () => {
    // A first version without hooks, so the failing rotation has a previous version to go back to.
    p = await createProject({ policy: POLICY });
    expect((await p.cli(['rotate', 'API_SIGNING_KEY'])).code).toBe(0);
    p.clock.advance(40 * DAY);
    writeFileSync(join(p.dir, 'hook.mjs'), HOOK);
    const printedFile = join(p.dir, 'printed.jsonl');
    writeFileSync(printedFile, '');
    // The hook is told the value it replaces (the current one), as an app's old config would.
    const knownFile = join(p.dir, 'known.txt');
    const current = p.rotor();
    const cs = await current.store();
    const row = await cs.db
      .selectFrom('versions')
      .selectAll()
      .where('stage', '=', 'current')
      .executeTakeFirstOrThrow();
    writeFileSync(knownFile, `${openVersion(await current.masterKey(), row)}\n`);
    await current.close();
    Object.assign(p.env, { PRINTED: printedFile, KNOWN: knownFile });
    p.writePolicy(HOOKED_POLICY);
    expect((await p.cli(['apply'])).code).toBe(0);

    const rotor = p.rotor();
    const store = await rotor.store();
    const { token } = await createApiToken(
      store,
      p.clock,
      { operator: 'setup', requestId: '00000000-0000-4000-8000-000000000000', method: 'manual' },
      { name: 'ops', role: 'operator', expiresInMs: DAY },
    );
    const app = await buildApp({ rotor, requestLogging: false });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/secrets/API_SIGNING_KEY/rotate',
      headers: { authorization: `Bearer ${token}` },
      payload: { reason: 'scheduled' },
    });
    answer = { status: res.statusCode, body: res.body };
    printed = readFileSync(printedFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    const master = await rotor.masterKey();
    const versions = await store.db.selectFrom('versions').selectAll().execute();
    // Every value that ever existed here: the retired one is destroyed, so take it from what the hook saw.
    values = [
      ...new Set([
        ...versions.filter((v) => v.ciphertext).map((v) => openVersion(master, v)),
        ...printed.map((x) => x.base64!).map((b) => Buffer.from(b, 'base64').toString()),
      ]),
    ];
    audit = (
      await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute()
    ).map((r) => JSON.parse(r.entry));
    errorMessages = (await store.db.selectFrom('rotations').select('error_message').execute()).map(
      (r) => r.error_message ?? '',
    );
    await app.close();
    await rotor.close();
  }, 120_000);
  afterAll(() => undefined);

  test('the hook ran for the new value and again for the restored one, and printed every piece', () => {
    expect(printed.length).toBe(2);
    expect(values.length).toBe(2);
    expect(new Set(printed.map((x) => x.prefix)).size).toBe(2);
  });

  test('the API answers 502 with the exit code, the step name and a masked tail', () => {
    expect(answer.status).toBe(502);
    expect(answer.body).toContain('restart billing');
    expect(answer.body).toContain('exit code 3');
    expect(answer.body).toContain(MASK);
    expect(answer.body).toContain('other ');
  });

  test('no printed piece (nor 8 characters of one) is in the answer, the audit notes or the rotations table', () => {
    const notes = audit.filter((a) =>
      ['rotate.rollback', 'rotate.redeploy', 'retire', 'rotate.failure'].some((x) =>
        a.action.startsWith(x),
      ),
    );
    // rollback, redeploy and the retire of the abandoned version all quote the failure.
    expect(notes.map((a) => a.action)).toEqual(
      expect.arrayContaining(['rotate.rollback', 'rotate.redeploy']),
    );
    expect(
      notes.some((a) => a.action.startsWith('retire') && a.notes.includes('restart billing')),
    ).toBe(true);
    const places = [
      answer.body,
      ...audit.map((a) => `${a.notes} ${JSON.stringify(a.details)}`),
      ...errorMessages,
    ];
    for (const place of places) {
      for (const pieces of printed) {
        for (const [name, piece] of Object.entries(pieces)) {
          for (let i = 0; i + 8 <= piece.length; i++)
            expect(place, `${name} ${piece.slice(i, i + 8)}`).not.toContain(piece.slice(i, i + 8));
        }
      }
      for (const value of values)
        for (let i = 0; i + 8 <= value.length; i++)
          expect(place).not.toContain(value.slice(i, i + 8));
    }
  });
});

describe('a rotator whose error quotes the value it was given', () => {
  test('the failure is masked in the result, the rotations table and the audit row', async () => {
    let seen = '';
    const echoing = defineRotator({
      kind: 'echoing',
      summary: 'a target whose refusal quotes the credential',
      source: 'generated',
      configSchema: z.strictObject({}).default({}),
      async create() {
        return { value: randomBytes(32).toString('base64url'), meta: {} };
      },
      async apply() {},
      async verify(_ctx, material) {
        seen = material.value;
        const pieces = piecesOf(material.value);
        throw new Error(
          `target refused "${pieces.prefix}…" (b64 ${pieces.base64Middle1}, hex ${pieces.hex})`,
        );
      },
      async retire() {},
    });
    const p = await createProject();
    p.writePolicy(
      'version: 1\nenvironments: [production]\nsecrets:\n  ECHO_TOKEN: { kind: echoing, cadence: 30d }\n',
    );
    const rotor = p.rotor([...ROTATORS, echoing]);
    try {
      await applyPolicy(rotor, {
        operator: 'setup',
        requestId: '00000000-0000-4000-8000-000000000000',
        method: 'manual',
      });
      const result = await createRotationEngine({ rotor }).rotate(
        { operator: 'alice', requestId: '00000000-0000-4000-8000-000000000001', method: 'manual' },
        { secret: 'ECHO_TOKEN', method: 'manual' },
      );
      expect(result.ok).toBe(false);
      const message = result.results[0]!.error!.message;
      expect(message).toContain('target refused');
      expect(message).toContain(MASK);
      const store = await rotor.store();
      const stored = (await store.db.selectFrom('rotations').select('error_message').execute()).map(
        (r) => r.error_message ?? '',
      );
      const audit = (await store.db.selectFrom('audit_events').select('entry').execute()).map(
        (r) => r.entry,
      );
      expect(seen.length).toBeGreaterThan(40);
      for (const place of [message, ...stored, ...audit]) {
        for (const piece of Object.values(piecesOf(seen)))
          for (let i = 0; i + 8 <= piece.length; i++)
            expect(place).not.toContain(piece.slice(i, i + 8));
      }
    } finally {
      await rotor.close();
    }
  }, 60_000);
});
