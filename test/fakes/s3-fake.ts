// The S3 data path for the aws-iam-access-key tests: s3rver (a real, filesystem-backed S3 server)
// on loopback, whose accepted keys follow the IAM fake's key table, behind a small authorising
// layer. s3rver refuses a key id missing from its account registry (InvalidAccessKeyId) but does
// not check SigV4 signatures (v4 is "unimplemented" in its authentication.js), has no policies and
// serves unsigned requests anonymously. So:
// - its registry follows IAM: a key is registered when the IAM fake creates or re-activates it
//   and revoked when IAM deactivates or deletes it (FakeAws.onKeyChange);
// - the layer in front refuses unsigned requests, recomputes each request's SigV4 signature with
//   the IAM fake's own verifier (the code STS answers with, propagation and deactivation lag
//   included), and lets a user's key touch only the buckets the IAM fake grants that user;
// - a key IAM does not know, or has deactivated, is handed to s3rver unchanged, so that refusal is
//   s3rver's own: proof that its registry was revoked.
// The payload hash (x-amz-content-sha256) is signed, but not compared with the body.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import AWSAccount from 's3rver/lib/models/account.js';
import { AwsError, type FakeAws, type FakeKey, type KeyChange } from './aws-iam-fake.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const xml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

export class FakeS3 {
  /** http://127.0.0.1:PORT once started (use with forcePathStyle). */
  endpoint = '';
  private server?: Server;
  private s3rver?: S3rver;
  private dir = '';
  private readonly accounts = new Map<string, AWSAccount>();
  private unsubscribe?: () => void;

  constructor(
    private readonly iam: FakeAws,
    /** Buckets s3rver holds (a user may use those the IAM fake grants it). */
    private readonly buckets: string[],
  ) {}

  async start(): Promise<string> {
    this.dir = mkdtempSync(join(tmpdir(), 'rotor-s3-fake-'));
    const s3rver = new S3rver({
      silent: true,
      directory: this.dir,
      configureBuckets: this.buckets.map((name) => ({ name })),
    });
    this.s3rver = s3rver;
    await s3rver.configureBuckets();
    // s3rver's built-in S3RVER key is no IAM key: nothing but IAM's keys may be accepted.
    AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
    for (const key of this.iam.keys.values())
      this.follow(key, key.status === 'Active' ? 'active' : 'inactive');
    this.unsubscribe = this.iam.onKeyChange((key, change) => this.follow(key, change));
    const serve = s3rver.callback();
    const server = createServer((req, res) => void this.receive(req, res, serve));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    for (const account of this.accounts.values())
      for (const id of [...account.accessKeys.keys()]) account.revokeAccessKey(id);
    this.s3rver?.logger.exceptions.unhandle();
    this.s3rver?.logger.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Whether s3rver's own registry holds this key id (what it would accept). */
  registered(keyId: string): boolean {
    return AWSAccount.registry.has(keyId);
  }

  /** Registers or revokes a key in s3rver as IAM changed it; a lingering key is revoked later. */
  private follow(key: FakeKey, change: KeyChange): void {
    if (change === 'active') this.register(key);
    else if (change === 'deleted' || !(key.lingering ?? 0)) this.revoke(key.id);
  }

  private register(key: FakeKey): void {
    let account = this.accounts.get(key.user);
    if (!account) {
      account = new AWSAccount(123456789012, key.user);
      this.accounts.set(key.user, account);
    }
    account.createKeyPair(key.id, key.secret);
  }

  private revoke(keyId: string): void {
    AWSAccount.registry.get(keyId)?.revokeAccessKey(keyId);
  }

  private async receive(req: IncomingMessage, res: ServerResponse, serve: Handler) {
    const keyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '?';
    const segments = new URL(req.url ?? '/', 'http://fake').pathname.split('/').filter(Boolean);
    const action = `${req.method} ${segments.length > 1 ? 'object' : 'bucket'}`;
    const record = (outcome: string) =>
      this.iam.calls.push({ service: 's3', action, keyId, outcome });
    const refusal = await this.authorise(req, decodeURIComponent(segments[0] ?? ''));
    if (refusal) {
      record(refusal.code);
      res.writeHead(refusal.status, { 'content-type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : xml(refusal.code, refusal.message));
      return;
    }
    // s3rver answers; its error code (from the XML body, none for HEAD) goes to the call log.
    let body = '';
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      if (typeof args[0] === 'string' || Buffer.isBuffer(args[0])) body = String(args[0]);
      return end(...args);
    }) as typeof res.end;
    res.on('finish', () =>
      record(
        res.statusCode < 300
          ? 'ok'
          : (/<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? `HTTP ${res.statusCode}`),
      ),
    );
    serve(req, res);
  }

  /** Undefined when the request may go on to s3rver; else the refusal to answer. */
  private async authorise(req: IncomingMessage, bucket: string): Promise<AwsError | undefined> {
    if (!req.headers.authorization)
      return new AwsError(403, 'AccessDenied', 'Anonymous access is refused: sign the request');
    try {
      const { key } = await this.iam.verifyRequest(req, '');
      // Accepted by IAM (also a key still lingering after deactivation): s3rver must know it.
      this.register(key);
      const granted = this.iam.users.get(key.user)?.buckets.has(bucket) ?? false;
      return bucket && !granted ? new AwsError(403, 'AccessDenied', 'Access Denied') : undefined;
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      if (error.code !== 'InvalidAccessKeyId') return error;
      // Active in IAM but not yet visible (propagation): refused here, s3rver keeps the key.
      if (this.iam.keys.get(error.keyId ?? '')?.status === 'Active') return error;
      // Unknown or inactive in IAM: s3rver must refuse it by itself.
      if (error.keyId) this.revoke(error.keyId);
      return undefined;
    }
  }
}
