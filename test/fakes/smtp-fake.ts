// A real SMTP server (smtp-server) on loopback with a self-signed certificate made for the test by
// the openssl CLI, STARTTLS or implicit TLS, whose AUTH accepts exactly what `accepts` says: the
// credential a provider fake currently holds. It is the SMTP front of the local provider fakes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface SmtpFake {
  port: number;
  /** PEM of the self-signed certificate, the CA a client must trust. */
  ca: string;
  auths: { username: string; accepted: boolean }[];
  stop(): Promise<void>;
}

/** A fresh self-signed P-256 certificate for 127.0.0.1 and localhost, valid for one day. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-smtp-cert-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

export async function startSmtpFake(options: {
  tls: 'starttls' | 'implicit';
  accepts(username: string, password: string): boolean;
}): Promise<SmtpFake> {
  const { key, cert } = selfSignedCert();
  const auths: SmtpFake['auths'] = [];
  const server = new SMTPServer({
    secure: options.tls === 'implicit',
    key,
    cert,
    authMethods: ['PLAIN', 'LOGIN'],
    // AUTH only over TLS, as the providers require.
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, callback) {
      const accepted = options.accepts(auth.username ?? '', auth.password ?? '');
      auths.push({ username: auth.username ?? '', accepted });
      if (!accepted)
        return callback(
          Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }),
        );
      callback(null, { user: auth.username });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    ca: cert,
    auths,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
