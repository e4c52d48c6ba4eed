// rotor.yaml's `audit:` block: signed checkpoints of the audit chain head, published every N rows
// or M minutes to a directory or an HTTP endpoint the database admin cannot rewrite. The signing
// key is named by file or environment variable, never written in rotor.yaml.
import { z } from 'zod';
import { MS, parseDuration } from '../duration.js';
import { ENV_VAR_NAME } from './names.js';

/** Where checkpoints go: a directory (one file per checkpoint) or an HTTP(S) endpoint (POST). */
export type CheckpointTarget = { dir: string } | { url: string };

/** The Ed25519 private key: a PEM file, or an environment variable holding the PEM text. */
export type CheckpointKeyRef = { file: string } | { env: string };

export interface CheckpointSettings {
  target: CheckpointTarget;
  key: CheckpointKeyRef;
  /** Publish once this many rows follow the last checkpoint. */
  everyRows: number;
  /** Publish when the last checkpoint is this old and rows follow it. */
  everyMs: number;
  /** Environment variable holding a bearer token for an HTTP target. */
  tokenEnv?: string;
}

export interface AuditSettings {
  checkpoints?: CheckpointSettings;
}

export const DEFAULT_CHECKPOINT_ROWS = 1000;
export const DEFAULT_CHECKPOINT_EVERY_MS = MS.h;

const TARGET = /^(dir:.+|https?:\/\/[^\s]+)$/;

/** `dir:PATH` or `http(s)://…` → a target. */
export function parseCheckpointTarget(text: string): CheckpointTarget {
  return text.startsWith('dir:') ? { dir: text.slice('dir:'.length) } : { url: text };
}

const envName = z.string().regex(ENV_VAR_NAME, 'an environment variable name');

const everySchema = z
  .strictObject({
    rows: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        `rows after the last checkpoint that make the next one due (default ${DEFAULT_CHECKPOINT_ROWS})`,
      ),
    time: z
      .string()
      .optional()
      .describe(
        'age of the last checkpoint that makes the next one due, if rows follow it (default 1h)',
      )
      .superRefine((text, ctx) => {
        if (text === undefined) return;
        try {
          if (parseDuration(text) <= 0)
            ctx.addIssue({ code: 'custom', message: 'must be longer than zero' });
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
  })
  .describe('how often to publish: whichever comes first');

const keySchema = z
  .union([
    z.strictObject({
      file: z.string().min(1).describe('PEM file of the Ed25519 private key (outside the store)'),
    }),
    z.strictObject({ env: envName.describe('environment variable holding the PEM text') }),
  ])
  .describe('the Ed25519 signing key: { file: PATH } or { env: VARIABLE }, never the key itself');

export const auditSchema = z
  .strictObject({
    checkpoints: z
      .strictObject({
        to: z
          .string()
          .regex(TARGET, 'use dir:PATH or an http(s):// URL')
          .describe('dir:PATH (one file per checkpoint) or an http(s):// URL (POST JSON)'),
        key: keySchema,
        every: everySchema.optional(),
        token: z
          .strictObject({ env: envName })
          .optional()
          .describe('environment variable holding a bearer token for an HTTP target'),
      })
      .optional()
      .describe(
        'signed checkpoints of the audit chain head, kept where the store admin cannot rewrite them',
      ),
  })
  .describe('the audit log');

export type RawAuditSettings = z.infer<typeof auditSchema>;

export function normalizeAudit(raw: RawAuditSettings): AuditSettings {
  const c = raw.checkpoints;
  if (!c) return Object.freeze({});
  const checkpoints: CheckpointSettings = Object.freeze({
    target: Object.freeze(parseCheckpointTarget(c.to)),
    key: Object.freeze('file' in c.key ? { file: c.key.file } : { env: c.key.env }),
    everyRows: c.every?.rows ?? DEFAULT_CHECKPOINT_ROWS,
    everyMs: c.every?.time ? parseDuration(c.every.time) : DEFAULT_CHECKPOINT_EVERY_MS,
    ...(c.token ? { tokenEnv: c.token.env } : {}),
  });
  return Object.freeze({ checkpoints });
}
