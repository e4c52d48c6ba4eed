// Test servers for the scheduler: a real SMTP server (smtp-server, AUTH required) and a real
// HTTP webhook receiver, both on 127.0.0.1, recording what arrives. Plus a Rotor over a test
// project with a captured logger.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { createRotor, type Rotor } from '../src/core/context.js';
import type { AnyRotator } from '../src/core/rotator/rotator-contract.js';
import { signBody } from '../src/core/rotation/stages/run-step.js';
import { ROTATORS } from '../src/rotators/registry.js';
import type { TestProject } from './helpers/project.js';

export interface ReceivedMail {
  user: string | undefined;
  from: string;
  to: string[];
  raw: string;
}

export interface TestSmtp {
  port: number;
  url: string;
  mails: ReceivedMail[];
  /** Failed AUTH attempts (wrong user or password). */
  authFailures: number;
  close(): Promise<void>;
}

export const SMTP_USER = 'rotor-mailer';
export const SMTP_PASSWORD = 'smtp-pass-9f8e7d6c';

/** An SMTP server that accepts mail only after AUTH with SMTP_USER / SMTP_PASSWORD. */
export async function startSmtp(): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  const state = { authFailures: 0 };
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD)
        return callback(null, { user: auth.username });
      state.authFailures += 1;
      callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          user: session.user,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${port}`,
    mails,
    get authFailures() {
      return state.authFailures;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ReceivedHook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The x-rotor-signature header matched HMAC-SHA256 of `<timestamp>.<body>` under the key. */
  signatureValid: boolean;
}

export interface TestReceiver {
  url: string;
  hooks: ReceivedHook[];
  /** Status to answer with (default 200). */
  status: number;
  close(): Promise<void>;
}

export async function startReceiver(key: string): Promise<TestReceiver> {
  const hooks: ReceivedHook[] = [];
  const receiver = { status: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(req.headers['x-rotor-timestamp'] ?? '');
      const signature = String(req.headers['x-rotor-signature'] ?? '');
      hooks.push({
        headers: req.headers,
        body,
        signatureValid: signature === signBody(key, timestamp, body),
      });
      res.statusCode = receiver.status;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hooks/rotor`,
    hooks,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** A Rotor over the test project whose log lines (debug and up) are kept in `logs`. */
export function rotorWithLogs(
  p: TestProject,
  rotators: readonly AnyRotator[] = ROTATORS,
): { rotor: Rotor; logs: string[] } {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino(
    {
      level: 'debug',
      redact: { paths: ['value', '*.value', 'input', '*.input'], censor: '[redacted]' },
    },
    sink,
  );
  return { rotor: createRotor({ cwd: p.dir, env: p.env, rotators, clock: p.clock, logger }), logs };
}

/** Every audit entry's JSON, oldest first. */
export async function auditEntries(rotor: Rotor): Promise<
  {
    action: string;
    outcome: string;
    secret: string | null;
    environment: string | null;
    method: string;
    notes: string;
    details: Record<string, unknown>;
    raw: string;
  }[]
> {
  const store = await rotor.store();
  const rows = await store.db.selectFrom('audit_events').select(['entry']).orderBy('seq').execute();
  return rows.map((r) => ({
    ...(JSON.parse(r.entry) as {
      action: string;
      outcome: string;
      secret: string | null;
      environment: string | null;
      method: string;
      notes: string;
      details: Record<string, unknown>;
    }),
    raw: r.entry,
  }));
}
