// One SMTP AUTH against the configured server over TLS (STARTTLS required, or implicit TLS), with
// nodemailer, imported lazily. Answers whether the server accepted the credential; a server that
// cannot be reached or a TLS failure throws, so "refused" is never claimed without an answer.
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { readCredential } from '../provider/credential-ref.js';
import type { SmtpConfig } from './smtp-config.js';

type Ctx = RotatorContext<SmtpConfig>;

export interface SmtpCredential {
  username: string;
  password: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function smtpLogin(
  ctx: Ctx,
  credential: SmtpCredential,
): Promise<{ accepted: true } | { accepted: false; reply: string }> {
  const { createTransport } = (await import('nodemailer')).default;
  const s = ctx.config.smtp;
  const ca = s.ca
    ? await readCredential(ctx, s.ca, 'SMTP server CA', 'a PEM certificate')
    : undefined;
  const transport = createTransport({
    host: s.host,
    port: s.port,
    secure: s.tls === 'implicit',
    requireTLS: s.tls === 'starttls',
    auth: { user: credential.username, pass: credential.password },
    tls: { ...(ca ? { ca } : {}), minVersion: 'TLSv1.2' },
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    logger: false,
    debug: false,
  });
  try {
    await transport.verify();
    return { accepted: true };
  } catch (error) {
    const e = error as {
      code?: string;
      responseCode?: number;
      response?: string;
      message?: string;
    };
    if (e.code === 'EAUTH' && e.responseCode !== undefined && e.responseCode >= 500) {
      return { accepted: false, reply: String(e.response ?? e.responseCode).slice(0, 120) };
    }
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_UNAVAILABLE',
      `${ctx.secret}/${ctx.environment}: SMTP AUTH at ${s.host}:${s.port} (${s.tls}) could not be tried (${e.code ?? 'error'}: ${(e.message ?? '').slice(0, 160)}); nothing was promoted`,
      {
        details: { host: s.host, port: s.port, code: e.code ?? null },
      },
    );
  } finally {
    transport.close();
  }
}

/** Logs in until the answer is `want` or the propagation attempts run out; returns the last answer. */
export async function smtpLoginUntil(
  ctx: Ctx,
  credential: SmtpCredential,
  want: boolean,
): Promise<{ accepted: boolean; reply: string; attempts: number }> {
  const { attempts, delayMs } = ctx.config.propagation;
  let n = 0;
  let delay = delayMs;
  for (;;) {
    const answer = await smtpLogin(ctx, credential);
    n++;
    if (answer.accepted === want || n >= attempts)
      return { accepted: answer.accepted, reply: answer.accepted ? '' : answer.reply, attempts: n };
    await sleep(delay);
    delay = Math.min(delay * 2, 15_000);
  }
}

export function parseSmtpValue(value: string, what: string): SmtpCredential {
  try {
    const v = JSON.parse(value) as Partial<SmtpCredential>;
    if (
      typeof v.username === 'string' &&
      v.username &&
      typeof v.password === 'string' &&
      v.password
    )
      return { username: v.username, password: v.password };
  } catch {
    // fall through to the one error below, which never quotes the value
  }
  throw new RotorError(
    'ERR_ROTOR_VALUE_INVALID',
    `${what}: expected {"username":"…","password":"…"}`,
  );
}

export function formatSmtpValue(c: SmtpCredential): string {
  return JSON.stringify({ username: c.username, password: c.password });
}
