// Reads rotor.yaml and returns a frozen Policy, or one RotorError that names the file, line,
// column and field of every problem found.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { RotorError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { AnyRotator } from '../rotator/rotator-contract.js';
import { createPolicySchema } from './policy-schema.js';
import { normalizePolicy, type ConfigIssue, type Policy } from './policy.js';

function locate(doc: Document, counter: LineCounter, path: (string | number)[]): string {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = counter.linePos(node.range[0]);
      return `${pos.line}:${pos.col}`;
    }
  }
  return '1:1';
}

function fieldName(path: (string | number)[]): string {
  return path.length === 0
    ? '(top level)'
    : path
        .map((p) => (typeof p === 'number' ? `[${p}]` : p))
        .join('.')
        .replace(/\.\[/g, '[');
}

/** Parses policy text; `file` is used only in messages. */
export function parsePolicy(text: string, file: string, rotators: readonly AnyRotator[]): Policy {
  const counter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: counter,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
  });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = counter.linePos(first.pos[0]);
    const duplicate = /unique/i.test(first.message);
    throw new RotorError(
      'ERR_ROTOR_POLICY_SYNTAX',
      `${file}:${pos.line}:${pos.col}: ${duplicate ? 'duplicate name: ' : ''}${first.message.split('\n')[0]}`,
      { details: { file, line: pos.line, column: pos.col } },
    );
  }
  const data: unknown = doc.toJS({ maxAliasCount: 50 });
  const schema = createPolicySchema(rotators);
  const parsed = schema.safeParse(data);
  let issues: ConfigIssue[];
  let policy: Policy | undefined;
  if (!parsed.success) {
    issues = parsed.error.issues.map((i) => ({
      path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
      message: describeIssue(i, fieldNames(schema)),
    }));
  } else {
    ({ policy, issues } = normalizePolicy(parsed.data, rotators));
  }
  if (policy && issues.length === 0) return policy;
  const lines = issues
    .slice(0, 10)
    .map((i) => `${file}:${locate(doc, counter, i.path)}: ${fieldName(i.path)}: ${i.message}`);
  if (issues.length > 10) lines.push(`… and ${issues.length - 10} more`);
  const first = issues[0];
  throw new RotorError('ERR_ROTOR_POLICY_INVALID', lines.join('\n'), {
    details: { file, field: first ? fieldName(first.path) : undefined, issues: issues.length },
  });
}

/** Every field name the schema knows, anywhere in the document: what "did you mean" picks from. */
function fieldNames(
  schema: unknown,
  out = new Set<string>(),
  seen = new Set<unknown>(),
): Set<string> {
  const def = (schema as { _zod?: { def?: Record<string, unknown> } } | null)?._zod?.def;
  if (!def || seen.has(schema)) return out;
  seen.add(schema);
  for (const [key, value] of Object.entries(def)) {
    if (key === 'shape' && value && typeof value === 'object') {
      for (const [name, field] of Object.entries(value)) {
        out.add(name);
        fieldNames(field, out, seen);
      }
    } else if (Array.isArray(value)) {
      for (const item of value) fieldNames(item, out, seen);
    } else {
      fieldNames(value, out, seen);
    }
  }
  return out;
}

function describeIssue(
  issue: {
    code: string;
    message: string;
    keys?: string[];
    values?: unknown[];
    issues?: { message: string }[];
  },
  known: Set<string>,
): string {
  if (issue.code === 'invalid_key' && issue.issues?.[0])
    return `invalid name: ${issue.issues[0].message}`;
  if (issue.code === 'unrecognized_keys' && issue.keys)
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"${didYouMean(k, known)}`).join(', ')}`;
  if (issue.code === 'invalid_value' && issue.values)
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message;
}

export function loadPolicy(file: string, rotators: readonly AnyRotator[]): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new RotorError(
      'ERR_ROTOR_POLICY_NOT_FOUND',
      `cannot read ${file}: run \`rotor init\` to create it`,
      { cause, details: { file } },
    );
  }
  return parsePolicy(text, file, rotators);
}
