// A local fake of the documented AWS APIs the `aws-iam-access-key` rotator calls: the IAM and STS
// Query APIs (form-encoded POST, XML answers) on one loopback port. It owns the key table the S3
// data path follows (s3-fake.ts: s3rver behind this fake's signature check). It is stateful and
// strict where Rotor's correctness depends on it: every request's SigV4 signature is recomputed
// with @smithy/signature-v4 (what the AWS SDK signs with) against the fake's own key table,
// inactive and deleted keys are refused like unknown ones (InvalidClientTokenId), a user holds at
// most two access keys (LimitExceeded), and a new key can be made invisible for its first N uses
// to imitate IAM's eventual consistency. It is not AWS: no policies beyond a per-user deny list
// and bucket grants, no pagination, no regions. See docs/providers.md.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { LoopbackServer } from './loopback-server.js';

export interface FakeKey {
  id: string;
  secret: string;
  user: string;
  status: 'Active' | 'Inactive';
  created: Date;
  /** Uses left during which STS/S3 still answer InvalidClientTokenId (eventual consistency). */
  invisibleFor: number;
  /** Uses for which STS/S3 still accept the key after it was deactivated (propagation). */
  lingering?: number;
  lastUsed?: Date;
}

export interface FakeUser {
  name: string;
  id: string;
  tags: Map<string, string>;
  /** IAM actions this user's keys may not call (`iam:CreateAccessKey`), for AccessDenied tests. */
  deny: Set<string>;
  /** Buckets this user's keys may use on the S3 fake (a stand-in for an IAM policy on s3:*). */
  buckets: Set<string>;
}

/** What happened to a key in IAM: the S3 fake registers or revokes it in s3rver accordingly. */
export type KeyChange = 'active' | 'inactive' | 'deleted';

export interface CallRecord {
  service: string;
  action: string;
  keyId: string;
  outcome: string;
}

const ACCOUNT = '123456789012';
const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** The SHA-256 constructor @smithy/signature-v4 expects, on node:crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export class AwsError extends Error {
  /** The key a refused request named, and the service it was signed for, for the call log. */
  readonly keyId?: string;
  readonly service?: string;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    refused: { keyId?: string; service?: string } = {},
  ) {
    super(message);
    this.keyId = refused.keyId;
    this.service = refused.service;
  }
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const el = (name: string, value: string) => `<${name}>${xmlEscape(value)}</${name}>`;

function newKeyId(): string {
  // AKIA + 16 upper-case base32-ish characters, the shape of a long-term IAM key id.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return 'AKIA' + [...randomBytes(16)].map((b) => alphabet[b % 32]).join('');
}

export class FakeAws extends LoopbackServer {
  readonly users = new Map<string, FakeUser>();
  readonly keys = new Map<string, FakeKey>();
  readonly calls: CallRecord[] = [];
  /** Actions answered with this HTTP status (500, 503) while set, to test provider faults. */
  readonly failures = new Map<string, number>();
  /** Uses for which each key created from now on stays invisible to STS/S3. */
  propagationUses = 0;
  /** Uses for which a key deactivated from now on is still accepted by STS/S3. */
  deactivationLagUses = 0;
  private readonly listeners = new Set<(key: FakeKey, change: KeyChange) => void>();

  /** Calls `listener` whenever a key is created, re-activated, deactivated or deleted. */
  onKeyChange(listener: (key: FakeKey, change: KeyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(key: FakeKey, change: KeyChange): void {
    for (const listener of this.listeners) listener(key, change);
  }

  addUser(name: string, options: { deny?: string[]; buckets?: string[] } = {}): void {
    this.users.set(name, {
      name,
      id: 'AIDA' + randomBytes(8).toString('hex').toUpperCase(),
      tags: new Map(),
      deny: new Set(options.deny),
      buckets: new Set(options.buckets),
    });
  }

  /** Makes a key outside the API (a person's key from the console), visible at once. */
  addKey(user: string, status: 'Active' | 'Inactive' = 'Active'): FakeKey {
    const key: FakeKey = {
      id: newKeyId(),
      secret: randomBytes(30).toString('base64').slice(0, 40),
      user,
      status,
      created: new Date(),
      invisibleFor: 0,
    };
    this.keys.set(key.id, key);
    this.changed(key, status === 'Active' ? 'active' : 'inactive');
    return key;
  }

  keysOf(user: string): FakeKey[] {
    return [...this.keys.values()].filter((k) => k.user === user);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    let service = '?';
    let action = '?';
    let keyId = '?';
    try {
      const auth = await this.verifyRequest(req, body);
      ({ service, keyId } = auth);
      if (service !== 'iam' && service !== 'sts')
        throw new AwsError(400, 'InvalidAction', `${service} is not served here (S3: s3-fake.ts)`);
      const params = new URLSearchParams(body);
      action = params.get('Action') ?? '?';
      const failure = this.failures.get(action);
      if (failure)
        throw new AwsError(
          failure,
          failure === 503 ? 'ServiceUnavailable' : 'InternalFailure',
          'injected provider fault',
        );
      const answer =
        service === 'sts' ? this.sts(action, auth.key) : this.iam(action, params, auth.key);
      this.calls.push({ service, action, keyId, outcome: 'ok' });
      res
        .writeHead(200, {
          'content-type': 'text/xml',
          'x-amzn-requestid': randomUUID(),
        })
        .end(req.method === 'HEAD' ? undefined : answer);
    } catch (error) {
      const e =
        error instanceof AwsError ? error : new AwsError(500, 'InternalFailure', String(error));
      this.calls.push({
        service: e.service ?? service,
        action: action === '?' ? (new URLSearchParams(body).get('Action') ?? '?') : action,
        keyId: e.keyId ?? keyId,
        outcome: e.code,
      });
      const ns = service === 'sts' ? STS_NS : IAM_NS;
      const xml = `<ErrorResponse xmlns="${ns}"><Error><Type>${e.status < 500 ? 'Sender' : 'Receiver'}</Type>${el('Code', e.code)}${el('Message', e.message)}</Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
      res
        .writeHead(e.status, { 'content-type': 'text/xml' })
        .end(req.method === 'HEAD' ? undefined : xml);
    }
  }

  /**
   * Recomputes the SigV4 signature with the secret of the key the request names; throws an
   * AwsError as AWS would refuse it. Also the S3 fake's check, so STS and S3 agree on every key.
   */
  async verifyRequest(
    req: IncomingMessage,
    body: string,
  ): Promise<{ service: string; keyId: string; key: FakeKey }> {
    const header = req.headers.authorization ?? '';
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        header,
      );
    if (!m)
      throw new AwsError(403, 'IncompleteSignature', 'Authorization header missing or malformed');
    const [, keyId, , region, service, signedHeaders, signature] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const key = this.keys.get(keyId);
    // Inactive keys are refused like unknown ones: STS says InvalidClientTokenId for both.
    const refuse = (code: string, message: string) =>
      new AwsError(403, code, message, { keyId, service });
    const invalid = () =>
      refuse(
        service === 's3' ? 'InvalidAccessKeyId' : 'InvalidClientTokenId',
        'The security token included in the request is invalid.',
      );
    const lingers = key?.status === 'Inactive' && (key.lingering ?? 0) > 0 && service !== 'iam';
    if (!key || (key.status !== 'Active' && !lingers)) throw invalid();
    if (lingers) key.lingering! -= 1;
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const date = new Date(
      amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (Number.isNaN(date.getTime()) || Math.abs(date.getTime() - Date.now()) > 15 * 60_000)
      throw refuse('SignatureDoesNotMatch', 'Signature expired or X-Amz-Date missing');
    const names = signedHeaders.split(';');
    const headers: Record<string, string> = {};
    for (const name of names) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const signer = new SignatureV4({
      credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
      region,
      service,
      sha256: Sha256,
      uriEscapePath: service !== 's3',
    });
    const signed = await signer.sign(
      {
        method: req.method ?? 'GET',
        protocol: 'http:',
        hostname: String(req.headers.host ?? '').split(':')[0] ?? '',
        path: decodeURIComponent(url.pathname),
        query,
        headers,
        body,
      },
      { signingDate: date, signableHeaders: new Set(names) },
    );
    const expected = /Signature=([0-9a-f]{64})/.exec(
      String(signed.headers.authorization ?? signed.headers.Authorization),
    )?.[1];
    if (expected !== signature)
      throw refuse(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
    if (key.invisibleFor > 0 && service !== 'iam') {
      key.invisibleFor -= 1;
      throw invalid();
    }
    key.lastUsed = new Date();
    return { service, keyId, key };
  }

  private arn(user: string): string {
    return `arn:aws:iam::${ACCOUNT}:user/${user}`;
  }

  private sts(action: string, key: FakeKey): string {
    if (action !== 'GetCallerIdentity')
      throw new AwsError(400, 'InvalidAction', `Could not find operation ${action}`);
    const user = this.users.get(key.user)!;
    return `<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult>${el('Arn', this.arn(user.name))}${el('UserId', user.id)}${el('Account', ACCOUNT)}</GetCallerIdentityResult><ResponseMetadata>${el('RequestId', randomUUID())}</ResponseMetadata></GetCallerIdentityResponse>`;
  }

  private targetUser(params: URLSearchParams, caller: FakeKey): FakeUser {
    const name = params.get('UserName') ?? caller.user;
    const user = this.users.get(name);
    if (!user)
      throw new AwsError(404, 'NoSuchEntity', `The user with name ${name} cannot be found.`);
    return user;
  }

  private iam(action: string, params: URLSearchParams, caller: FakeKey): string {
    const me = this.users.get(caller.user)!;
    if (me.deny.has(`iam:${action}`)) {
      throw new AwsError(
        403,
        'AccessDenied',
        `User: ${this.arn(me.name)} is not authorized to perform: iam:${action} on resource: user ${params.get('UserName') ?? me.name} because no identity-based policy allows the iam:${action} action`,
      );
    }
    const user = this.targetUser(params, caller);
    const wrap = (inner: string) =>
      `<${action}Response xmlns="${IAM_NS}">${inner ? `<${action}Result>${inner}</${action}Result>` : ''}<ResponseMetadata>${el('RequestId', randomUUID())}</ResponseMetadata></${action}Response>`;
    const keyParam = () => {
      const key = this.keys.get(params.get('AccessKeyId') ?? '');
      if (!key || key.user !== user.name)
        throw new AwsError(
          404,
          'NoSuchEntity',
          `The Access Key with id ${params.get('AccessKeyId')} cannot be found.`,
        );
      return key;
    };
    switch (action) {
      case 'ListAccessKeys': {
        const members = this.keysOf(user.name).map(
          (k) =>
            `<member>${el('UserName', k.user)}${el('AccessKeyId', k.id)}${el('Status', k.status)}${el('CreateDate', k.created.toISOString())}</member>`,
        );
        return wrap(
          `${el('UserName', user.name)}<AccessKeyMetadata>${members.join('')}</AccessKeyMetadata><IsTruncated>false</IsTruncated>`,
        );
      }
      case 'CreateAccessKey': {
        if (this.keysOf(user.name).length >= 2)
          throw new AwsError(409, 'LimitExceeded', 'Cannot exceed quota for AccessKeysPerUser: 2');
        const key = this.addKey(user.name);
        key.invisibleFor = this.propagationUses;
        return wrap(
          `<AccessKey>${el('UserName', user.name)}${el('AccessKeyId', key.id)}${el('Status', 'Active')}${el('SecretAccessKey', key.secret)}${el('CreateDate', key.created.toISOString())}</AccessKey>`,
        );
      }
      case 'UpdateAccessKey': {
        const status = params.get('Status');
        if (status !== 'Active' && status !== 'Inactive')
          throw new AwsError(400, 'ValidationError', 'Status must be Active or Inactive');
        const target = keyParam();
        if (status === 'Inactive' && target.status === 'Active')
          target.lingering = this.deactivationLagUses;
        const before = target.status;
        target.status = status;
        if (before !== status) this.changed(target, status === 'Active' ? 'active' : 'inactive');
        return wrap('');
      }
      case 'DeleteAccessKey': {
        const target = keyParam();
        this.keys.delete(target.id);
        this.changed(target, 'deleted');
        return wrap('');
      }
      case 'GetAccessKeyLastUsed': {
        const key = this.keys.get(params.get('AccessKeyId') ?? '');
        if (!key) throw new AwsError(404, 'NoSuchEntity', 'The Access Key cannot be found.');
        return wrap(
          `${el('UserName', key.user)}<AccessKeyLastUsed>${key.lastUsed ? el('LastUsedDate', key.lastUsed.toISOString()) : ''}${el('ServiceName', 'N/A')}${el('Region', 'N/A')}</AccessKeyLastUsed>`,
        );
      }
      case 'TagUser': {
        for (let i = 1; params.has(`Tags.member.${i}.Key`); i++) {
          user.tags.set(
            params.get(`Tags.member.${i}.Key`)!,
            params.get(`Tags.member.${i}.Value`) ?? '',
          );
        }
        if (user.tags.size > 50)
          throw new AwsError(409, 'LimitExceeded', 'Cannot exceed quota for TagsPerUser: 50');
        return wrap('');
      }
      case 'UntagUser':
        for (let i = 1; params.has(`TagKeys.member.${i}`); i++)
          user.tags.delete(params.get(`TagKeys.member.${i}`)!);
        return wrap('');
      case 'ListUserTags': {
        const members = [...user.tags].map(
          ([k, v]) => `<member>${el('Key', k)}${el('Value', v)}</member>`,
        );
        return wrap(`<Tags>${members.join('')}</Tags><IsTruncated>false</IsTruncated>`);
      }
      default:
        throw new AwsError(400, 'InvalidAction', `Could not find operation ${action}`);
    }
  }
}
