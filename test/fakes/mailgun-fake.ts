// A local fake of Mailgun's documented SMTP-credentials endpoints (GET/POST
// /v3/domains/{d}/credentials, PUT/DELETE …/credentials/{login}) with HTTP basic auth `api:KEY`:
// stateful, one password per login (PUT replaces it at once), passwords of 5 to 32 characters,
// form-encoded input, Mailgun's `{ message }` answers. Not Mailgun: one domain list, no paging.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class FakeMailgun {
  /** domain → login (full address) → password */
  readonly credentials = new Map<string, Map<string, string>>();
  readonly calls: { method: string; path: string; status: number }[] = [];
  readonly failures = new Map<string, number>();
  private server?: Server;
  endpoint = '';

  constructor(readonly apiKey: string) {}

  acceptsSmtp(username: string, password: string): boolean {
    const domain = username.split('@')[1] ?? '';
    return this.credentials.get(domain)?.get(username) === password;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
        const send = (status: number, json: unknown) => {
          this.calls.push({ method: req.method ?? '', path, status });
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
        };
        const fail = this.failures.get(`${req.method}`);
        if (fail) return send(fail, { message: 'internal error' });
        if (
          req.headers.authorization !==
          `Basic ${Buffer.from(`api:${this.apiKey}`).toString('base64')}`
        )
          return send(401, { message: 'Invalid private key' });
        const m = /^\/v3\/domains\/([^/]+)\/credentials(?:\/([^/]+))?$/.exec(path);
        if (!m) return send(404, { message: 'not found' });
        const [, domain, login] = m as unknown as [string, string, string | undefined];
        const creds = this.credentials.get(domain);
        if (!creds) return send(404, { message: 'Domain not found' });
        const form = new URLSearchParams(body);
        const password = form.get('password') ?? '';
        const validPassword = password.length >= 5 && password.length <= 32;
        if (!login && req.method === 'GET')
          return send(200, {
            total_count: creds.size,
            items: [...creds.keys()].map((l) => ({
              login: l,
              created_at: new Date().toUTCString(),
            })),
          });
        if (!login && req.method === 'POST') {
          const full = form.get('login') ?? '';
          const address = full.includes('@') ? full : `${full}@${domain}`;
          if (!validPassword)
            return send(400, { message: 'Password length must be between 5 and 32 characters' });
          if (creds.has(address)) return send(400, { message: 'Credentials already exist' });
          creds.set(address, password);
          return send(200, { message: 'Created 1 credentials pair(s)' });
        }
        const address = login && (login.includes('@') ? login : `${login}@${domain}`);
        if (!address || !creds.has(address)) return send(404, { message: 'Credentials not found' });
        if (req.method === 'PUT') {
          if (!validPassword)
            return send(400, { message: 'Password length must be between 5 and 32 characters' });
          creds.set(address, password);
          return send(200, { message: 'Password changed' });
        }
        if (req.method === 'DELETE') {
          creds.delete(address);
          return send(200, { message: 'Credentials have been deleted', spec: address });
        }
        return send(405, { message: 'method not allowed' });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
