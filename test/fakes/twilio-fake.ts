// A local, stateful fake of the Twilio REST subset the `twilio` rotator calls, on loopback. It is
// not Twilio: it serves api.twilio.com and accounts.twilio.com paths on one port, keeps no
// resources beyond accounts, auth tokens and API keys, and lists no phone numbers. Where Rotor's
// correctness depends on Twilio's behaviour it is strict, after Twilio's API reference:
// - HTTP Basic on every request: an account SID with its primary or secondary auth token, or an
//   API key SID with its secret. Anything else is 401 with Twilio's error 20003 ("Authenticate").
// - A Standard key may not read the account resource (/Accounts) or keys (/Keys), nor manage auth
//   tokens: 401, error 20003. A Main key may (`addKey(…, 'main')`).
// - POST /v1/AuthTokens/Secondary makes a new secondary token (replacing one that exists; the
//   reference does not say, and the rotator deletes a stray one first either way);
//   DELETE removes it (404, error 20404, when there is none); POST /v1/AuthTokens/Promote makes
//   the secondary primary and the old primary is refused from then on (404 when no secondary).
// - GET /2010-04-01/Accounts/{Sid}.json answers the account with its primary `auth_token`.
// - Keys: POST/GET /2010-04-01/Accounts/{Sid}/Keys.json, GET/DELETE …/Keys/{SK}.json; the secret
//   is in the create answer only.
// `failNext` makes the next requests fail (429/5xx with Retry-After) to test retries.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FailureQueue, LoopbackServer, replyJson } from './loopback-server.js';

export interface FakeTwilioKey {
  sid: string;
  secret: string;
  account: string;
  friendlyName: string;
  type: 'standard' | 'main';
}

interface FakeAccount {
  sid: string;
  primary: string;
  secondary?: string;
}

export interface TwilioCallRecord {
  method: string;
  /** Path with SIDs kept, no query string and never a credential. */
  path: string;
  /** Who authenticated: an AC… or SK… SID, or `?` when nobody did. */
  principal: string;
  status: number;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

class TwilioError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const unauthenticated = () => new TwilioError(401, 20003, 'Authenticate');
const notFound = (path: string) =>
  new TwilioError(404, 20404, `The requested resource ${path} was not found`);

export class FakeTwilio extends LoopbackServer {
  readonly accounts = new Map<string, FakeAccount>();
  readonly keys = new Map<string, FakeTwilioKey>();
  readonly calls: TwilioCallRecord[] = [];
  /** While set, a secondary auth token is refused (401) as if it never propagated. */
  refuseSecondary = false;
  private readonly failures = new FailureQueue();

  addAccount(): FakeAccount {
    const account = { sid: `AC${hex(16)}`, primary: hex(16) };
    this.accounts.set(account.sid, account);
    return account;
  }

  addKey(
    account: string,
    type: FakeTwilioKey['type'] = 'standard',
    friendlyName = '',
  ): FakeTwilioKey {
    const key = { sid: `SK${hex(16)}`, secret: hex(16), account, friendlyName, type };
    this.keys.set(key.sid, key);
    return key;
  }

  /** The next `count` requests answer `status` (with Retry-After when given) before anything else. */
  failNext(count: number, status: number, retryAfter?: string): void {
    this.failures.add(count, status, retryAfter);
  }

  keysOf(account: string): FakeTwilioKey[] {
    return [...this.keys.values()].filter((k) => k.account === account);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const form = new URLSearchParams(body);
    const url = new URL(req.url ?? '/', 'http://fake');
    const record: TwilioCallRecord = {
      method: req.method ?? '?',
      path: url.pathname,
      principal: '?',
      status: 0,
    };
    this.calls.push(record);
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      replyJson(res, status, body, headers);
    };
    const failure = this.failures.next();
    if (failure) {
      return reply(
        failure.status,
        {
          code: failure.status === 429 ? 20429 : 20500,
          message: failure.status === 429 ? 'Too Many Requests' : 'Internal Server Error',
          status: failure.status,
        },
        failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
      );
    }
    try {
      const principal = this.authenticate(req);
      record.principal = principal.sid;
      const [status, body] = this.route(record.method, url.pathname, principal, form);
      reply(status, body);
    } catch (error) {
      if (!(error instanceof TwilioError)) throw error;
      reply(error.status, {
        code: error.code,
        message: error.message,
        more_info: `https://www.twilio.com/docs/errors/${error.code}`,
        status: error.status,
      });
    }
  }

  /** The account a request acts for, and whether its credential is a Standard key. */
  private authenticate(req: IncomingMessage): {
    sid: string;
    account: FakeAccount;
    standard: boolean;
  } {
    const match = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (!match) throw unauthenticated();
    const text = Buffer.from(match[1]!, 'base64').toString('utf8');
    const at = text.indexOf(':');
    const [user, password] = [text.slice(0, at), text.slice(at + 1)];
    const account = this.accounts.get(user);
    const secondaryOk =
      account?.secondary !== undefined && password === account.secondary && !this.refuseSecondary;
    if (account && at > 0 && (password === account.primary || secondaryOk)) {
      return { sid: user, account, standard: false };
    }
    const key = this.keys.get(user);
    const owner = key ? this.accounts.get(key.account) : undefined;
    if (key && owner && at > 0 && password === key.secret)
      return { sid: user, account: owner, standard: key.type === 'standard' };
    throw unauthenticated();
  }

  private route(
    method: string,
    path: string,
    who: { account: FakeAccount; standard: boolean },
    form: URLSearchParams,
  ): [number, unknown] {
    const account = who.account;
    if (path.startsWith('/v1/AuthTokens/')) {
      if (who.standard) throw unauthenticated();
      return this.authTokens(method, path, account);
    }
    const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})(\.json|\/.*)$/.exec(path);
    if (!m || m[1] !== account.sid) throw notFound(path);
    const rest = m[2]!;
    if (rest === '.json' && method === 'GET') {
      if (who.standard) throw unauthenticated();
      return [
        200,
        {
          sid: account.sid,
          friendly_name: 'fake account',
          status: 'active',
          type: 'Full',
          auth_token: account.primary,
        },
      ];
    }
    if (rest === '/IncomingPhoneNumbers.json' && method === 'GET')
      return [200, { incoming_phone_numbers: [], page: 0, page_size: 1 }];
    if (rest.startsWith('/Keys')) {
      if (who.standard) throw unauthenticated();
      return this.keysRoute({ method, rest, path, form }, account);
    }
    throw notFound(path);
  }

  private authTokens(method: string, path: string, account: FakeAccount): [number, unknown] {
    const now = new Date().toISOString();
    if (path === '/v1/AuthTokens/Secondary' && method === 'POST') {
      account.secondary = hex(16);
      return [
        201,
        {
          account_sid: account.sid,
          secondary_auth_token: account.secondary,
          date_created: now,
          date_updated: now,
          url: 'https://accounts.twilio.com/v1/AuthTokens/Secondary',
        },
      ];
    }
    if (path === '/v1/AuthTokens/Secondary' && method === 'DELETE') {
      if (account.secondary === undefined) throw notFound(path);
      delete account.secondary;
      return [204, undefined];
    }
    if (path === '/v1/AuthTokens/Promote' && method === 'POST') {
      if (account.secondary === undefined) throw notFound(path);
      account.primary = account.secondary;
      delete account.secondary;
      return [
        200,
        {
          account_sid: account.sid,
          auth_token: account.primary,
          date_created: now,
          date_updated: now,
          url: 'https://accounts.twilio.com/v1/AuthTokens/Promote',
        },
      ];
    }
    throw notFound(path);
  }

  private keysRoute(
    {
      method,
      rest,
      path,
      form,
    }: { method: string; rest: string; path: string; form: URLSearchParams },
    account: FakeAccount,
  ): [number, unknown] {
    const view = (k: FakeTwilioKey) => ({
      sid: k.sid,
      friendly_name: k.friendlyName,
      date_created: new Date().toUTCString(),
      date_updated: new Date().toUTCString(),
    });
    if (rest === '/Keys.json' && method === 'GET')
      return [200, { keys: this.keysOf(account.sid).map(view), page: 0, page_size: 1000 }];
    if (rest === '/Keys.json' && method === 'POST') {
      const friendlyName = form.get('FriendlyName') ?? '';
      if (friendlyName.length > 64)
        throw new TwilioError(400, 21610, 'FriendlyName is longer than 64 characters');
      const key = this.addKey(account.sid, 'standard', friendlyName);
      return [201, { ...view(key), secret: key.secret }];
    }
    const k = /^\/Keys\/(SK[0-9a-f]{32})\.json$/.exec(rest);
    const key = k ? this.keys.get(k[1]!) : undefined;
    if (!key || key.account !== account.sid) throw notFound(path);
    if (method === 'GET') return [200, view(key)];
    if (method === 'DELETE') {
      this.keys.delete(key.sid);
      return [204, undefined];
    }
    throw notFound(path);
  }
}
