// Seeds a store's audit log with `rows` realistic, correctly chained rows (inventory secret
// names, environments, operators, actions, UUID request ids, notes, details), through one
// prepared INSERT in large transactions on its own connection. For benchmarks and tests that
// need a large log; appended after whatever rows the log already has.
import { randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import {
  canonicalEntry,
  chainHash,
  GENESIS_HASH,
  OUTCOMES,
  type AuditEntry,
} from '../src/core/audit/audit-log.js';
import { METHODS } from '../src/core/store/schema.js';

const SECRETS = [
  'DATABASE_URL',
  'JWT_ACCESS_SECRET',
  'JWT_REFRESH_SECRET',
  'METRICS_AUTH_TOKEN',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'SMTP_PASSWORD',
  'TWILIO_AUTH_TOKEN',
  null,
];
const ENVS = ['staging', 'production'];
const OPERATORS = ['alice', 'bob', 'carol.ops', 'scheduler', 'ci-deploy'];
const ACTIONS = [
  'rotate.create',
  'rotate.apply',
  'rotate.verify',
  'rotate.promote',
  'rotate.retire',
  'policy.change',
  'read.get',
  'import',
];
const NOTES = [
  '',
  'promoted after verify',
  'scheduled rotation: due at 90d',
  'emergency: key pasted in a public channel, revoked at once',
  'grace window 24h; deploy hook ok; smoke test ok',
];

export function seededEntry(i: number, at: number): AuditEntry {
  const secret = SECRETS[i % SECRETS.length]!;
  return {
    v: 1,
    at: new Date(at).toISOString(),
    secret,
    environment: secret === null ? null : ENVS[i % 2]!,
    operator: OPERATORS[i % OPERATORS.length]!,
    method: METHODS[i % METHODS.length]!,
    action: ACTIONS[i % ACTIONS.length]!,
    outcome: OUTCOMES[i % OUTCOMES.length]!,
    requestId: randomUUID(),
    notes: NOTES[i % NOTES.length]!,
    details:
      i % 3 === 0
        ? { rotationId: randomUUID(), versionId: `v_${i.toString(36)}`, step: 'promote' }
        : { attempt: i % 4 },
  };
}

/** Appends `rows` chained rows to the audit log of the SQLite store at `file`, one second apart from `startAt`. */
export function seedAuditLog(file: string, rows: number, startAt = Date.UTC(2024, 0, 1)): void {
  const db = new BetterSqlite3(file);
  try {
    db.pragma('busy_timeout = 10000');
    const head = db
      .prepare<[], { hash: string }>('SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1')
      .get();
    const insert = db.prepare(
      'INSERT INTO audit_events (at, secret, environment, action, entry, hash) VALUES (?, ?, ?, ?, ?, ?)',
    );
    let prev = head?.hash ?? GENESIS_HASH;
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const at = startAt + i * 1000;
        const e = seededEntry(i, at);
        const text = canonicalEntry(e);
        prev = chainHash(prev, text);
        insert.run(at, e.secret, e.environment, e.action, text, prev);
      }
    });
    for (let from = 0; from < rows; from += 20_000)
      batch.immediate(from, Math.min(rows, from + 20_000));
  } finally {
    db.close();
  }
}
