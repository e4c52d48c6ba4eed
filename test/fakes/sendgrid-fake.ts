// A local fake of the documented SendGrid v3 API-keys endpoints (GET/POST /v3/api_keys,
// GET/DELETE /v3/api_keys/{id}) with Bearer auth: stateful, keys shaped `SG.<id>.<secret>`,
// scopes enforced for the admin key (api_keys.read/create/delete), SendGrid's error JSON. Not
// SendGrid: no subusers, no pagination beyond `limit`, no PATCH/PUT.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SendgridKey {
  id: string;
  key: string;
  name: string;
  scopes: string[];
}

export class FakeSendgrid {
  readonly keys = new Map<string, SendgridKey>();
  readonly calls: { method: string; path: string; status: number }[] = [];
  readonly failures = new Map<string, number>();
  private server?: Server;
  endpoint = '';

  addKey(name: string, scopes: string[]): SendgridKey {
    const id = randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22);
    const k = {
      id,
      key: `SG.${id}.${randomBytes(32).toString('base64url').replace(/[-_]/g, 'y')}`,
      name,
      scopes,
    };
    this.keys.set(id, k);
    return k;
  }

  /** What SendGrid's SMTP relay accepts: user `apikey` and a live key with mail.send. */
  acceptsSmtp(username: string, password: string): boolean {
    const k = [...this.keys.values()].find((x) => x.key === password);
    return username === 'apikey' && k !== undefined && k.scopes.includes('mail.send');
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const send = (status: number, json?: unknown) => {
          this.calls.push({ method: req.method ?? '', path, status });
          res
            .writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' })
            .end(json === undefined ? undefined : JSON.stringify(json));
        };
        const fail = this.failures.get(`${req.method} ${path.replace(/\/[\w]{16,}$/, '/{id}')}`);
        if (fail) return send(fail, { errors: [{ field: null, message: 'internal error' }] });
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const caller = [...this.keys.values()].find((k) => k.key === bearer);
        if (!caller)
          return send(401, { errors: [{ field: null, message: 'authorization required' }] });
        const need =
          req.method === 'GET'
            ? 'api_keys.read'
            : req.method === 'POST'
              ? 'api_keys.create'
              : 'api_keys.delete';
        if (!caller.scopes.includes(need))
          return send(403, { errors: [{ field: null, message: 'access forbidden' }] });
        const id = /^\/v3\/api_keys\/([\w]+)$/.exec(path)?.[1];
        if (path === '/v3/api_keys' && req.method === 'GET')
          return send(200, {
            result: [...this.keys.values()].map((k) => ({ api_key_id: k.id, name: k.name })),
          });
        if (path === '/v3/api_keys' && req.method === 'POST') {
          const input = JSON.parse(body || '{}') as { name?: string; scopes?: string[] };
          if (!input.name)
            return send(400, { errors: [{ field: 'name', message: 'missing required argument' }] });
          const k = this.addKey(input.name, input.scopes ?? ['mail.send']);
          return send(201, { api_key: k.key, api_key_id: k.id, name: k.name, scopes: k.scopes });
        }
        const k = id ? this.keys.get(id) : undefined;
        if (!k) return send(404, { errors: [{ field: null, message: 'unable to find API Key' }] });
        if (req.method === 'GET')
          return send(200, { api_key_id: k.id, name: k.name, scopes: k.scopes });
        if (req.method === 'DELETE') {
          this.keys.delete(k.id);
          return send(204);
        }
        return send(405, { errors: [{ field: null, message: 'method not allowed' }] });
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
