// The halves of an access key (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY) are never rotated one
// without the other: rotor.yaml is refused, naming both, when it would let that happen; and the
// default rotor.yaml of `rotor init` offers the provider kinds while still loading without any
// provider credential.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_YAML } from '../src/core/policy/default-policy.js';
import { parsePolicy } from '../src/core/policy/load-policy.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { createProject } from './helpers/project.js';

const AWS_PAIR = `  S3_ACCESS_KEY:
    kind: aws-iam-access-key
    cadence: 180d
    config:
      userName: app
      admin: { env: AWS_ADMIN_KEY }
      variables: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY }
`;

const policy = (secrets: string) =>
  `version: 1\nenvironments: [staging, production]\nsecrets:\n${secrets}`;

function refusal(secrets: string): { code: string; message: string } {
  try {
    parsePolicy(policy(secrets), 'rotor.yaml', ROTATORS);
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('the policy was accepted');
}

describe('an access key pair is rotated as one', () => {
  it('one aws-iam-access-key secret delivering both halves is accepted', () => {
    const parsed = parsePolicy(policy(AWS_PAIR), 'rotor.yaml', ROTATORS);
    expect([...parsed.secrets.keys()]).toEqual(['S3_ACCESS_KEY']);
  });

  it('refuses a half that is also declared as a secret of its own, naming both halves', () => {
    const e = refusal(`${AWS_PAIR}  S3_SECRET_ACCESS_KEY:\n    kind: manual\n    cadence: 180d\n`);
    expect(e.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(e.message).toContain(
      'rotor.yaml:12:5: secrets.S3_SECRET_ACCESS_KEY: S3_SECRET_ACCESS_KEY is delivered by S3_ACCESS_KEY (kind aws-iam-access-key) together with S3_ACCESS_KEY_ID, from one value and one version; as a secret of its own it would be rotated without S3_ACCESS_KEY_ID',
    );
  });

  it.each([
    ['random', '    config: { bytes: 32 }\n'],
    ['aws-iam-access-key', '    config: { userName: app, admin: { env: AWS_ADMIN_KEY } }\n'],
  ])('refuses a half of kind %s, which Rotor would rotate alone', (kind, config) => {
    const e = refusal(`  S3_ACCESS_KEY_ID:\n    kind: ${kind}\n    cadence: 180d\n${config}`);
    expect(e.code).toBe('ERR_ROTOR_POLICY_INVALID');
    expect(e.message).toContain(
      `secrets.S3_ACCESS_KEY_ID.kind: S3_ACCESS_KEY_ID is one half of an AWS access key (S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY): kind ${kind} would rotate S3_ACCESS_KEY_ID without S3_SECRET_ACCESS_KEY`,
    );
    expect(e.message).toContain(
      'variables: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY }',
    );
  });

  it('refuses manual halves due on different schedules; accepts them on the same one', () => {
    const halves = (secretCadence: string) =>
      `  S3_ACCESS_KEY_ID:\n    kind: manual\n    cadence: 180d\n  S3_SECRET_ACCESS_KEY:\n    kind: manual\n    cadence: ${secretCadence}\n`;
    expect(refusal(halves('90d')).message).toContain(
      'secrets.S3_ACCESS_KEY_ID.cadence: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are one AWS access key, rotated together',
    );
    expect(() => parsePolicy(policy(halves('180d')), 'rotor.yaml', ROTATORS)).not.toThrow();
  });

  it('refuses a pair of variables that are the same, or named as the secret itself', () => {
    const same = AWS_PAIR.replace(
      'secretAccessKey: S3_SECRET_ACCESS_KEY',
      'secretAccessKey: S3_ACCESS_KEY_ID',
    );
    expect(refusal(same).message).toContain(
      'S3_ACCESS_KEY_ID and S3_ACCESS_KEY_ID must be 2 different variables, none named S3_ACCESS_KEY',
    );
    const self = AWS_PAIR.replace('accessKeyId: S3_ACCESS_KEY_ID', 'accessKeyId: S3_ACCESS_KEY');
    expect(refusal(self).message).toContain(
      'must be 2 different variables, none named S3_ACCESS_KEY',
    );
  });

  it('rotor apply refuses such a policy and changes nothing', async () => {
    const p = await createProject({ policy: policy(AWS_PAIR) });
    p.writePolicy(policy(`${AWS_PAIR}  S3_ACCESS_KEY_ID:\n    kind: manual\n    cadence: 180d\n`));
    const applied = await p.cli(['apply']);
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('ERR_ROTOR_POLICY_INVALID');
    expect(applied.stderr).toContain('without S3_SECRET_ACCESS_KEY');
    p.writePolicy(policy(AWS_PAIR));
    const status = await p.cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('S3_ACCESS_KEY');
    expect(status.stdout).not.toContain('S3_ACCESS_KEY_ID');
  });
});

/** The default rotor.yaml with each manual provider entry swapped for its commented provider kind. */
function withProviderKinds(yaml: string): string {
  let out = yaml;
  for (const name of [
    'SMTP_PASSWORD',
    'TWILIO_AUTH_TOKEN',
    'S3_ACCESS_KEY_ID',
    'S3_SECRET_ACCESS_KEY',
  ])
    out = out.replace(new RegExp(`^  ${name}:\\n(?: {4}(?!#).*\\n)*`, 'm'), '');
  return out.replace(/^ {4}# {3}/gm, '  ');
}

describe("rotor init's rotor.yaml and the provider kinds", () => {
  it('loads with no provider credential, with SMTP, Twilio and S3 still manual', () => {
    const parsed = parsePolicy(DEFAULT_POLICY_YAML, 'rotor.yaml', ROTATORS);
    for (const name of [
      'SMTP_PASSWORD',
      'TWILIO_AUTH_TOKEN',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
    ])
      expect(parsed.secrets.get(name)?.kind).toBe('manual');
  });

  it('offers, under each of them, the kind that rotates it by itself, and that entry is valid as written', () => {
    for (const kind of ['kind: smtp', 'kind: twilio', 'kind: aws-iam-access-key'])
      expect(DEFAULT_POLICY_YAML).toContain(`    #     ${kind}\n`);
    const swapped = withProviderKinds(DEFAULT_POLICY_YAML);
    const parsed = parsePolicy(swapped, 'rotor.yaml', ROTATORS);
    const kinds = Object.fromEntries([...parsed.secrets].map(([name, s]) => [name, s.kind]));
    expect(kinds).toMatchObject({
      SMTP_CREDENTIAL: 'smtp',
      TWILIO_AUTH_TOKEN: 'twilio',
      S3_ACCESS_KEY: 'aws-iam-access-key',
    });
    expect(kinds).not.toHaveProperty('S3_ACCESS_KEY_ID');
    expect(kinds).not.toHaveProperty('SMTP_PASSWORD');
  });

  it('a new project from rotor init shows the provider kinds in its rotor.yaml and works without credentials', async () => {
    const p = await createProject();
    const yaml = readFileSync(join(p.dir, 'rotor.yaml'), 'utf8');
    expect(yaml).toContain('#     kind: aws-iam-access-key');
    expect(yaml).toContain('an IAM role with short-lived credentials');
    const status = await p.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    // Adding the provider kinds needs no credential until a rotation runs.
    p.writePolicy(withProviderKinds(yaml));
    const applied = await p.cli(['apply']);
    expect(applied.code, applied.stderr).toBe(0);
    const after = await p.cli(['status']);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain(
      'note: S3_ACCESS_KEY (aws-iam-access-key): the runbook prefers an IAM role with short-lived credentials',
    );
  });
});
