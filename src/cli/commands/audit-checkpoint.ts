// `rotor audit checkpoint [keygen]` and `rotor audit verify --checkpoints`: signed checkpoints of
// the audit chain head. Loaded by audit.ts only when one of these runs, so `rotor audit list`
// never loads the signing and publishing code. No private key material is ever printed.
import { constants } from 'node:fs';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { publishCheckpoint } from '../../core/audit/checkpoint-publish.js';
import type { CheckpointTarget } from '../../core/policy/checkpoint-schema.js';
import {
  generateCheckpointKeyPair,
  loadCheckpointPublicKey,
} from '../../core/audit/checkpoint-sign.js';
import {
  verifyWithCheckpoints,
  type CheckpointVerifyResult,
  type VerifiedState,
} from '../../core/audit/checkpoint-verify.js';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import { colors, print, printJson } from '../io.js';

export interface AuditCheckpointVerifyOptions {
  checkpoints: string;
  publicKey?: string;
  full?: boolean;
  state?: string;
}

export async function auditCheckpointCommand(ctx: CommandContext): Promise<number> {
  const result = await publishCheckpoint(ctx.rotor);
  if (ctx.json) {
    printJson(ctx.io, result);
    return 0;
  }
  const c = result.checkpoint;
  if (result.outcome === 'empty') print(ctx.io, 'the audit log is empty: nothing to checkpoint');
  else if (result.outcome === 'up-to-date')
    print(ctx.io, `the chain head already has a checkpoint at ${result.target}`);
  else
    print(
      ctx.io,
      `${result.outcome === 'exists' ? 'checkpoint already there' : 'checkpoint published'}: row ${c!.seq}, head ${c!.head}, signed at ${c!.at} by key ${c!.keyId}, at ${result.target}`,
    );
  return 0;
}

export async function auditCheckpointKeygenCommand(
  ctx: CommandContext,
  options: { out?: string },
): Promise<number> {
  if (!options.out)
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      'rotor audit checkpoint keygen needs --out FILE: where to write the private key (keep it off the store machine if you can; the public key goes to FILE.pub)',
    );
  const privateFile = resolve(ctx.io.cwd, options.out);
  const publicFile = `${privateFile}.pub`;
  const pair = generateCheckpointKeyPair();
  await writeNew(publicFile, pair.publicPem, 0o644);
  try {
    await writeNew(privateFile, pair.privatePem, 0o600);
  } catch (error) {
    await import('node:fs/promises').then((fs) => fs.unlink(publicFile)).catch(() => undefined);
    throw error;
  }
  if (ctx.json) {
    printJson(ctx.io, { privateKey: privateFile, publicKey: publicFile, keyId: pair.keyId });
    return 0;
  }
  print(ctx.io, `private key (mode 0600): ${privateFile}`);
  print(ctx.io, `public key: ${publicFile} (key ${pair.keyId})`);
  print(
    ctx.io,
    colors(ctx.io).dim(
      `rotor.yaml: audit: { checkpoints: { to: dir:/path/outside/the/store, key: { file: ${privateFile} } } }; verifiers need only the .pub file`,
    ),
  );
  return 0;
}

/** Creates `file` with `text`, refusing to replace anything already there. */
async function writeNew(file: string, text: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RotorError(
      code === 'EEXIST' ? 'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_EXISTS' : 'ERR_ROTOR_CLI_USAGE',
      code === 'EEXIST'
        ? `${file} already exists: keygen never replaces a key (move it away, or choose another --out)`
        : `cannot write ${file} (${code ?? (error as Error).message})`,
      { details: { file }, cause: error },
    );
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** `--checkpoints`: a directory path (or dir:PATH) or an http(s):// URL. */
function parseSource(ctx: CommandContext, value: string): CheckpointTarget {
  if (/^https?:\/\//.test(value)) return { url: value };
  const path = value.startsWith('dir:') ? value.slice(4) : value;
  return { dir: resolve(ctx.io.cwd, path) };
}

async function readState(file: string): Promise<VerifiedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `cannot read --state ${file}: ${(error as Error).message}`,
    );
  }
  const state = JSON.parse(text.trim() || 'null') as Partial<VerifiedState> | null;
  if (
    state?.v !== 1 ||
    typeof state.store !== 'string' ||
    typeof state.seq !== 'number' ||
    typeof state.hash !== 'string' ||
    typeof state.checkpointSeq !== 'number'
  )
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `--state ${file} is not a verified-state file written by rotor audit verify`,
    );
  return state as VerifiedState;
}

async function writeState(file: string, state: VerifiedState): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

export async function auditVerifyCheckpointsCommand(
  ctx: CommandContext,
  options: AuditCheckpointVerifyOptions,
): Promise<number> {
  if (!options.publicKey)
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      '--checkpoints needs --public-key FILE: the Ed25519 public key the checkpoints are signed with',
    );
  const publicKey = loadCheckpointPublicKey(resolve(ctx.io.cwd, options.publicKey));
  const source = parseSource(ctx, options.checkpoints);
  const stateFile = options.state === undefined ? undefined : resolve(ctx.io.cwd, options.state);
  const state = stateFile ? await readState(stateFile) : undefined;
  const store = await ctx.rotor.store();
  const result = await verifyWithCheckpoints(store, {
    source,
    publicKey,
    full: options.full ?? false,
    ...(state ? { state } : {}),
    now: () => ctx.rotor.clock.now(),
  });
  if (result.ok && stateFile && result.state) await writeState(stateFile, result.state);
  if (ctx.json) {
    printJson(ctx.io, {
      ...result,
      ...(result.ok
        ? {}
        : {
            error: {
              code: 'ERR_ROTOR_AUDIT_CHECKPOINT_MISMATCH',
              message: result.firstBad?.message,
            },
          }),
    });
    return result.ok ? 0 : 1;
  }
  printVerify(ctx, result);
  return result.ok ? 0 : 1;
}

function printVerify(ctx: CommandContext, r: CheckpointVerifyResult): void {
  const c = colors(ctx.io);
  const newest = r.checkpoints.newest;
  if (r.ok) {
    print(
      ctx.io,
      `${c.green('audit log matches its signed checkpoints:')} ${r.checkpoints.checked} of ${r.checkpoints.found} checked${newest ? `, newest row ${newest.seq} signed at ${newest.at}` : ''}`,
    );
    print(
      ctx.io,
      r.mode === 'full'
        ? `whole chain recomputed: ${r.rows} row(s) intact`
        : `chain recomputed after row ${r.from.seq} (${r.from.by}): ${r.rows} row(s) intact`,
    );
    print(ctx.io, `head: row ${r.headSeq}, hash ${r.headHash}`);
    if (r.mode === 'incremental')
      print(
        ctx.io,
        c.dim(
          'Incremental: rows before the trusted head were not re-read; run with --full now and then.',
        ),
      );
    return;
  }
  const bad = r.firstBad!;
  print(
    ctx.io,
    `${c.red('audit log DISAGREES with its signed checkpoints:')} ${bad.seq === undefined ? '' : `first bad row ${bad.seq} `}(${bad.kind})`,
  );
  for (const p of r.problems) print(ctx.io, p.message);
}
