// What a store dialect may offer beyond portable Kysely queries: a synchronous read path for the
// server's hot reads and a change signal for live delivery. Each is optional; callers fall back.
import type { ApiTokensTable, AuditEventsTable, SecretsTable, VersionsTable } from './schema.js';

type MaybePromise<T> = T | Promise<T>;

/** A live version as the read path selects it: no sealed bytes. */
export type LiveVersionRow = Pick<VersionsTable, 'id' | 'stage' | 'retire_at' | 'master_key_id'>;

/** The columns token authentication reads. */
export type TokenRow = Pick<
  ApiTokensTable,
  'id' | 'name' | 'role' | 'secrets' | 'environments' | 'hash' | 'expires_at' | 'revoked_at'
>;

/** One audit row ready to insert: its entry and hash come from core's audit module, never a dialect. */
export type AuditRowInsert = Omit<AuditEventsTable, 'seq'>;

/**
 * A read path on its own connection whose reads are synchronous (no Kysely, no await): what
 * `rotor serve` uses to hand out a value. Lookups may be cached until another connection commits.
 */
export interface FastReads {
  /** The current and previous versions of a secret in an environment, newest first. */
  liveVersions(secret: string, environment: string): readonly LiveVersionRow[];
  /** The whole row of one version, sealed value included. */
  version(id: string): VersionsTable | undefined;
  token(id: string): TokenRow | undefined;
  /**
   * One write transaction that reads the audit chain's head hash (undefined for an empty log) and
   * inserts the rows `link` returns. Waits (asynchronously) while another writer holds the lock;
   * rejects with ERR_ROTOR_STORE_UNAVAILABLE when the store cannot be written.
   */
  appendAudit(link: (headHash: string | undefined) => readonly AuditRowInsert[]): Promise<void>;
  /** Writes one meta row in its own transaction (the readiness probe); rejects like appendAudit. */
  setMeta(key: string, value: string): Promise<void>;
  close(): void;
}

export interface FastReadsSource {
  /** Opens the read path on a new connection; the caller closes it. */
  open(): FastReads;
}

/** A live (current or previous) version, as the change feed diffs them. */
export type LiveStateRow = Pick<VersionsTable, 'secret' | 'environment' | 'id' | 'retire_at'> & {
  stage: 'current' | 'previous';
};

/** What the change feed needs of a version's secret to describe its key. */
export type VersionKindRow = Pick<SecretsTable, 'kind' | 'spec'> & Pick<VersionsTable, 'meta'>;

export type TokenStateRow = Pick<ApiTokensTable, 'id' | 'revoked_at' | 'expires_at'>;

export interface ChangeWatchOptions {
  /** How often a polling implementation looks for commits, in ms (SQLite: default 100). */
  pollMs?: number;
  /**
   * Called after another connection committed (possibly more often, never less); not called
   * again until the promise it returns settles. Reads made from here see that commit.
   */
  onChange(): void | Promise<void>;
  /** A failed look (busy, briefly unreadable): the next one tries again. */
  onError?(error: unknown): void;
}

/** A change watch and reads on its connection; synchronous where the dialect allows. */
export interface ChangeWatch {
  /** Every current and previous version. */
  liveStates(): MaybePromise<LiveStateRow[]>;
  versionKind(versionId: string): MaybePromise<VersionKindRow | undefined>;
  /** The rows of those tokens that still exist. */
  tokenStates(ids: readonly string[]): MaybePromise<TokenStateRow[]>;
  /** Looks for a commit now (tests; the watch does it by itself), resolving after onChange ran. */
  check(): Promise<void>;
  close(): void | Promise<void>;
}

export interface ChangeSource {
  /** Starts watching on a connection of its own; the caller closes the watch. */
  watch(options: ChangeWatchOptions): Promise<ChangeWatch>;
}
