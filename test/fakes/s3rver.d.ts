// The part of s3rver 3.7 (no published types) the S3 fake uses: the Koa app's request handler,
// bucket provisioning, its logger, and the account registry that decides which key ids exist.
declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface S3rverOptions {
    silent?: boolean;
    directory?: string;
    configureBuckets?: Array<{ name: string }>;
    allowMismatchedSignatures?: boolean;
  }

  export default class S3rver {
    constructor(options: S3rverOptions);
    configureBuckets(): Promise<void>;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    logger: { close(): void; exceptions: { unhandle(): void } };
  }
}

declare module 's3rver/lib/models/account.js' {
  class AWSAccount {
    constructor(accountId: number, displayName: string);
    /** key id → secret access key */
    accessKeys: Map<string, string>;
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
    revokeAccessKey(accessKeyId: string): void;
    /** Process-wide: key id → account. A key id missing here is refused (InvalidAccessKeyId). */
    static registry: Map<string, AWSAccount>;
    /** s3rver's built-in account, holding the key id S3RVER. */
    static DUMMY_ACCOUNT: AWSAccount;
  }
  export default AWSAccount;
}
