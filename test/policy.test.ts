import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/core/duration.js';
import { parsePolicy } from '../src/core/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../src/core/policy/default-policy.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { createProject } from './helpers/project.js';

const DAY = 86_400_000;

function policyError(yaml: string): { code: string; message: string } {
  try {
    parsePolicy(yaml, 'rotor.yaml', ROTATORS);
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected the policy to be rejected');
}

const base = (secrets: string) =>
  `version: 1\nenvironments: [staging, production]\nsecrets:\n${secrets}`;

describe('durations', () => {
  it('parses days, weeks, months, years, hours and combinations', () => {
    expect(parseDuration('90d')).toBe(90 * DAY);
    expect(parseDuration('12w')).toBe(84 * DAY);
    expect(parseDuration('6mo')).toBe(180 * DAY);
    expect(parseDuration('1y')).toBe(365 * DAY);
    expect(parseDuration('24h')).toBe(DAY);
    expect(parseDuration('1w2d')).toBe(9 * DAY);
  });

  it.each(['', '90', 'd', '90 days', '-5d', '1.5d', '90x', '3m2'])(
    'rejects %j with ERR_ROTOR_DURATION_INVALID',
    (text) => {
      expect(() => parseDuration(text)).toThrow(
        expect.objectContaining({ code: 'ERR_ROTOR_DURATION_INVALID' }),
      );
    },
  );
});

describe('rotor.yaml', () => {
  it("the default policy holds the runbook's inventory and cadences", () => {
    const policy = parsePolicy(DEFAULT_POLICY_YAML, 'rotor.yaml', ROTATORS);
    expect(policy.environments).toEqual(['staging', 'production']);
    const days = (name: string) => {
      const c = policy.secrets.get(name)!.cadence;
      return [c.targetMs / DAY, c.maxMs / DAY, c.warnMs / DAY];
    };
    expect(days('JWT_ACCESS_SECRET')).toEqual([90, 90, 14]);
    expect(days('JWT_REFRESH_SECRET')).toEqual([90, 90, 14]);
    expect(days('METRICS_AUTH_TOKEN')).toEqual([180, 180, 14]);
    expect(days('SMTP_PASSWORD')).toEqual([180, 180, 14]);
    expect(days('S3_SECRET_ACCESS_KEY')).toEqual([180, 180, 14]);
    expect(days('DATABASE_URL')).toEqual([180, 365, 14]);
    expect(days('ROTOR_MASTER_KEY')).toEqual([365, 365, 14]);
    expect(policy.secrets.get('JWT_ACCESS_SECRET')!.kind).toBe('jwt-hmac');
    expect(policy.secrets.get('METRICS_AUTH_TOKEN')!.kind).toBe('random');
    expect(policy.secrets.get('SMTP_PASSWORD')!.kind).toBe('manual');
  });

  it('names the line and field of a wrong type', () => {
    const e = policyError(
      base('  JWT_ACCESS_SECRET:\n    kind: jwt-hmac\n    cadence: 90d\n    grace: 5\n'),
    );
    expect(e.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(e.message).toMatch(/^rotor\.yaml:7:\d+: secrets\.JWT_ACCESS_SECRET\.grace: /);
  });

  it('names an unknown kind and lists the known ones', () => {
    const e = policyError(base('  TOKEN:\n    kind: vault\n    cadence: 90d\n'));
    expect(e.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(e.message).toContain(
      'rotor.yaml:5:11: secrets.TOKEN.kind: must be one of "random", "jwt-hmac", "manual"',
    );
  });

  it('names a bad duration', () => {
    const e = policyError(base('  TOKEN:\n    kind: random\n    cadence: 90 days\n'));
    expect(e.message).toContain('rotor.yaml:6:14: secrets.TOKEN.cadence');
    expect(e.message).toContain('invalid duration "90 days"');
  });

  it.each([
    ['interval', 'soon', 'invalid duration "soon"'],
    ['timeout', 'soon', 'invalid duration "soon"'],
    ['timeout', '0s', 'must be longer than zero'],
  ])('names a bad stage step %s (%j)', (field, value, reason) => {
    const yaml = base(
      `  API_KEY:\n    kind: random\n    cadence: 90d\n    health:\n      - http: { url: "http://127.0.0.1:1/healthz", method: GET }\n        ${field}: ${value}\n`,
    );
    const error = policyError(yaml);
    expect(error.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(error.message).toContain(`health[0].${field}`);
    expect(error.message).toContain(reason);
  });

  it('rejects a duplicate secret name with its line', () => {
    const e = policyError(
      base(
        '  TOKEN:\n    kind: random\n    cadence: 90d\n  TOKEN:\n    kind: random\n    cadence: 30d\n',
      ),
    );
    expect(e.code).toBe('ERR_ROTOR_POLICY_SYNTAX');
    expect(e.message).toMatch(/^rotor\.yaml:7:\d+: duplicate name: /);
  });

  it('rejects a value written into the file (unknown field)', () => {
    const e = policyError(
      base('  TOKEN:\n    kind: random\n    cadence: 90d\n    value: hunter2hunter2\n'),
    );
    expect(e.message).toContain('secrets.TOKEN: unknown field "value"');
    expect(e.message).not.toContain('hunter2');
  });

  it('rejects max shorter than target, unknown environments, odd names and bad rotator config', () => {
    expect(
      policyError(base('  DB:\n    kind: manual\n    cadence: { target: 365d, max: 180d }\n'))
        .message,
    ).toContain('max (180d) is shorter than target (365d)');
    expect(
      policyError(base('  T:\n    kind: random\n    cadence: 9d\n    environments: [prod]\n'))
        .message,
    ).toContain('unknown environment "prod"');
    expect(
      policyError(base('  lower_case:\n    kind: random\n    cadence: 9d\n')).message,
    ).toContain('environment-variable names');
    expect(
      policyError(base('  T:\n    kind: random\n    cadence: 9d\n    config: { bytes: 16 }\n'))
        .message,
    ).toMatch(/secrets\.T\.config\.bytes: .*32/);
    expect(
      policyError(
        base(
          '  T:\n    kind: jwt-hmac\n    cadence: 9d\n    config: { algorithm: HS512, bytes: 32 }\n',
        ),
      ).message,
    ).toContain('HS512 needs at least 64 bytes');
    expect(
      policyError(
        base('  T:\n    kind: jwt-hmac\n    cadence: 9d\n    config: { algorithm: none }\n'),
      ).message,
    ).toContain('secrets.T.config.algorithm');
  });

  it('reports YAML syntax errors with a position', () => {
    const e = policyError('version: 1\nenvironments: [staging\nsecrets: {}\n');
    expect(e.code).toBe('ERR_ROTOR_POLICY_SYNTAX');
    expect(e.message).toMatch(/^rotor\.yaml:\d+:\d+: /);
  });
});

describe('rotor apply', () => {
  it('is idempotent and shows what changes', async () => {
    const p = await createProject();
    const again = await p.cli(['apply']);
    expect(again.stdout).toContain('no changes');
    const yaml = readFileSync(join(p.dir, 'rotor.yaml'), 'utf8').replace(
      'cadence: 90d\n    grace: 1h',
      'cadence: 60d\n    grace: 1h',
    );
    p.writePolicy(yaml);
    const dry = await p.cli(['apply', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout).changes).toEqual([
      { type: 'change', what: 'secret', name: 'JWT_ACCESS_SECRET', fields: ['cadence'] },
    ]);
    const changed = await p.cli(['apply']);
    expect(changed.stdout).toContain('~ secret JWT_ACCESS_SECRET (cadence)');
    expect((await p.cli(['apply'])).stdout).toContain('no changes');
  });

  it('writes nothing when the policy is invalid, and exits non-zero naming the file and line', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    const store = await rotor.store();
    const before = await store.db.selectFrom('secrets').selectAll().execute();
    const auditBefore = await store.db.selectFrom('audit_events').select('seq').execute();
    await rotor.close();
    p.writePolicy(base('  TOKEN:\n    kind: random\n    cadence: soon\n'));
    const result = await p.cli(['apply']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /ERR_ROTOR_POLICY_INVALID: .*rotor\.yaml:6:\d+: secrets\.TOKEN\.cadence/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    const after = p.rotor();
    const s = await after.store();
    expect(await s.db.selectFrom('secrets').selectAll().execute()).toEqual(before);
    expect(await s.db.selectFrom('audit_events').select('seq').execute()).toEqual(auditBefore);
    await after.close();
  });

  it('init refuses to overwrite an existing rotor.yaml', async () => {
    const p = await createProject();
    const result = await p.cli(['init']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERR_ROTOR_POLICY_EXISTS');
  });

  it('rotor schema prints a JSON Schema that names every kind', async () => {
    const p = await createProject();
    const result = await p.cli(['schema']);
    const schema = JSON.parse(result.stdout);
    expect(schema.$schema).toContain('json-schema.org');
    expect(JSON.stringify(schema)).toContain('"jwt-hmac"');
    expect(schema.required).toEqual(expect.arrayContaining(['version', 'environments', 'secrets']));
  });
});

describe('policy drift', () => {
  it('status warns when rotor.yaml has changed since the last apply, and stops after apply', async () => {
    const p = await createProject();
    expect((await p.cli(['status'])).stderr).toBe('');
    const yaml = readFileSync(join(p.dir, 'rotor.yaml'), 'utf8');
    p.writePolicy(
      yaml.replace(
        'cadence: 180d\n    notes: Low exposure scope',
        'cadence: 90d\n    notes: Low exposure scope',
      ),
    );
    expect((await p.cli(['status'])).stderr).toContain('has changed since the last `rotor apply`');
    await p.cli(['apply']);
    expect((await p.cli(['status'])).stderr).toBe('');
    p.writePolicy(`# a comment only\n${readFileSync(join(p.dir, 'rotor.yaml'), 'utf8')}`);
    await p.cli(['apply']);
    expect((await p.cli(['status'])).stderr).toBe('');
  });
});
