// A local fake of both sides of the `http` kind's contract (docs/providers.md, "http"), on
// loopback: a tiny provider with API keys (GET /provider/whoami with `Authorization: Bearer KEY`
// answers 200 for a live key and 401 otherwise), and the reference rotation endpoint a team
// would write in front of it (POST /rotate). The endpoint does what the contract asks of one:
// - refuses a request whose x-rotor-signature is not the HMAC-SHA256 of `<timestamp>.<body>`
//   under the shared key, or whose x-rotor-timestamp is more than 15 minutes away (401);
// - create: makes a key named as Rotor says and answers {id, value}; the same Idempotency-Key
//   answers the same key again (and a different body under a used key is 422);
// - verify: {valid} for the id (or value) and value given;
// - revoke: revokes by id (or by value for an imported key); 404 when it knows no such key.
// - abandon: revokes the live keys named as the body's `name` says; 404 when there is none.
// `failNext` answers 429/5xx first; `hangNext` never answers; `loseNextCreateAnswer` makes the key but answers 503, as a
// connection cut after the provider acted would; `echoValues` puts the value in error messages,
// as a careless endpoint might, to prove Rotor masks it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FailureQueue, LoopbackServer, replyJson } from './loopback-server.js';

export interface FakeProviderKey {
  id: string;
  name: string;
  value: string;
  revoked: boolean;
}

export interface EndpointCall {
  action: string;
  idempotencyKey: string;
  signed: boolean;
  status: number;
}

const TOLERANCE_S = 15 * 60;

export class FakeWebhookEndpoint extends LoopbackServer {
  readonly keys = new Map<string, FakeProviderKey>();
  readonly calls: EndpointCall[] = [];
  private readonly answered = new Map<string, { body: string; status: number; answer: unknown }>();
  private readonly failures = new FailureQueue();
  loseNextCreateAnswer = false;
  /** The next this-many rotation requests get no answer at all (the connection is left open). */
  hangNext = 0;
  /** While set, verify answers valid: false for every key (a provider that never accepts it). */
  refuseAll = false;
  echoValues = false;

  constructor(readonly signingKey: string) {
    super();
  }

  failNext(count: number, status: number, retryAfter?: string): void {
    this.failures.add(count, status, retryAfter);
  }

  /** A key made outside Rotor (the one a team imports as the first version). */
  addKey(name = 'made by a person'): FakeProviderKey {
    const key = {
      id: `key_${randomBytes(6).toString('hex')}`,
      name,
      value: `sk_test_${randomBytes(24).toString('base64url')}`,
      revoked: false,
    };
    this.keys.set(key.id, key);
    return key;
  }

  live(): FakeProviderKey[] {
    return [...this.keys.values()].filter((k) => !k.revoked);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      replyJson(res, status, body, headers);
      return status;
    };
    if (req.method === 'GET' && req.url === '/provider/whoami') {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const key = [...this.keys.values()].find((k) => k.value === bearer && !k.revoked);
      reply(key ? 200 : 401, key ? { id: key.id } : { message: 'invalid api key' });
      return;
    }
    if (req.method !== 'POST' || req.url !== '/rotate') {
      reply(404, { message: 'not found' });
      return;
    }
    const idempotencyKey = String(req.headers['idempotency-key'] ?? '');
    const call: EndpointCall = {
      action: '?',
      idempotencyKey,
      signed: this.signatureOk(req, text),
      status: 0,
    };
    this.calls.push(call);
    if (this.hangNext > 0) {
      this.hangNext -= 1;
      return;
    }
    const failure = this.failures.next();
    if (failure) {
      call.status = reply(
        failure.status,
        { message: 'try again' },
        failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
      );
      return;
    }
    if (!call.signed) {
      call.status = reply(401, { message: 'signature refused' });
      return;
    }
    const body = JSON.parse(text) as Record<string, unknown>;
    call.action = String(body.action);
    const seen = this.answered.get(idempotencyKey);
    if (seen && call.action !== 'verify') {
      call.status =
        seen.body === text
          ? reply(seen.status, seen.answer)
          : reply(422, { message: 'Idempotency-Key reused with another request' });
      return;
    }
    const [status, answer] = this.act(body);
    if (call.action !== 'verify' && idempotencyKey && status < 500)
      this.answered.set(idempotencyKey, { body: text, status, answer });
    if (call.action === 'create' && this.loseNextCreateAnswer) {
      this.loseNextCreateAnswer = false;
      call.status = reply(503, { message: 'connection reset' });
      return;
    }
    call.status = reply(status, answer);
  }

  private signatureOk(req: IncomingMessage, text: string): boolean {
    const timestamp = String(req.headers['x-rotor-timestamp'] ?? '');
    const signature = String(req.headers['x-rotor-signature'] ?? '');
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_S)
      return false;
    const expected = Buffer.from(
      `v1=${createHmac('sha256', this.signingKey).update(`${timestamp}.${text}`).digest('hex')}`,
    );
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private find(body: Record<string, unknown>): FakeProviderKey | undefined {
    if (typeof body.id === 'string') return this.keys.get(body.id);
    return [...this.keys.values()].find((k) => k.value === body.value);
  }

  private act(body: Record<string, unknown>): [number, unknown] {
    switch (body.action) {
      case 'create': {
        const key = this.addKey(String(body.name));
        return [201, { id: key.id, value: key.value, meta: { name: key.name } }];
      }
      case 'verify': {
        const key = this.find(body);
        const valid =
          !this.refuseAll && key !== undefined && !key.revoked && key.value === body.value;
        if (!valid && this.echoValues)
          return [400, { message: `the key ${String(body.value)} was refused` }];
        return [200, valid ? { valid } : { valid, reason: 'the provider refused the key' }];
      }
      case 'revoke': {
        const key = this.find(body);
        if (!key) return [404, { message: 'no such key' }];
        key.revoked = true;
        return [200, { revoked: true }];
      }
      case 'abandon': {
        const made = this.live().filter((k) => k.name === body.name);
        if (made.length === 0) return [404, { message: 'no key of that name' }];
        for (const k of made) k.revoked = true;
        return [200, { revoked: made.map((k) => k.id) }];
      }
      default:
        return [400, { message: 'unknown action' }];
    }
  }
}
