// One value, one version: refuses policies that could rotate one half of a two-part credential
// without the other (docs/providers.md).
import type { RawPolicy } from './policy-schema.js';
import type { ConfigIssue } from './policy.js';

type Entries = RawPolicy['secrets'];

const ID_HALF = /^(.*)ACCESS_KEY_ID$/;
const SECRET_HALF = /^(.*)SECRET_ACCESS_KEY$/;

/** The `config.variables` of an entry: field → variable name (strings only). */
function partsOf(config: unknown): Array<[string, string]> {
  const variables = (config as { variables?: unknown } | undefined)?.variables;
  if (!variables || typeof variables !== 'object') return [];
  return Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string');
}

/** Parts delivered from one value that are also secrets of their own, or collide. */
function deliveredPartIssues(secrets: Entries): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [name, entry] of Object.entries(secrets)) {
    const parts = partsOf(entry.config);
    const variables = parts.map(([, v]) => v);
    const together = variables.join(' and ');
    parts.forEach(([field, variable]) => {
      const others = variables.filter((v) => v !== variable);
      if (variable === name || others.length < parts.length - 1) {
        issues.push({
          path: ['secrets', name, 'config', 'variables', field],
          message: `${together} must be ${parts.length} different variables, none named ${name}`,
        });
      } else if (secrets[variable]) {
        issues.push({
          path: ['secrets', variable],
          message: `${variable} is delivered by ${name} (kind ${entry.kind}) together with ${others.join(' and ')}, from one value and one version; as a secret of its own it would be rotated without ${others.join(' and ')}: remove the ${variable} entry`,
        });
      }
    });
  }
  return issues;
}

const sameSchedule = (a: Entries[string], b: Entries[string]) =>
  JSON.stringify([a.cadence, a.environments ?? null]) ===
  JSON.stringify([b.cadence, b.environments ?? null]);

/** AWS key halves declared as two secrets (or one half alone) where Rotor would split them. */
function awsHalfIssues(secrets: Entries): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [name, entry] of Object.entries(secrets)) {
    const prefix = ID_HALF.exec(name)?.[1] ?? SECRET_HALF.exec(name)?.[1];
    if (prefix === undefined) continue;
    const isId = ID_HALF.test(name);
    const sibling = isId ? `${prefix}SECRET_ACCESS_KEY` : `${prefix}ACCESS_KEY_ID`;
    const other = secrets[sibling];
    const pair = `${prefix}ACCESS_KEY_ID and ${prefix}SECRET_ACCESS_KEY`;
    const fix = `declare one secret (e.g. ${prefix}ACCESS_KEY) of kind aws-iam-access-key with config.variables: { accessKeyId: ${prefix}ACCESS_KEY_ID, secretAccessKey: ${prefix}SECRET_ACCESS_KEY }`;
    if (entry.kind !== 'manual') {
      issues.push({
        path: ['secrets', name, 'kind'],
        message: `${name} is one half of an AWS access key (${pair}): kind ${entry.kind} would rotate ${name} without ${sibling}; ${fix}, or make both halves kind manual`,
      });
    } else if (isId && other?.kind === 'manual' && !sameSchedule(entry, other)) {
      issues.push({
        path: ['secrets', name, 'cadence'],
        message: `${pair} are one AWS access key, rotated together: give both the same cadence and environments, or ${fix}`,
      });
    }
  }
  return issues;
}

/** Every issue that would let one half of a two-part credential rotate without the other. */
export function pairedValueIssues(raw: Pick<RawPolicy, 'secrets'>): ConfigIssue[] {
  return [...deliveredPartIssues(raw.secrets), ...awsHalfIssues(raw.secrets)];
}
