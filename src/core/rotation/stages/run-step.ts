// Runs one deploy hook, smoke test or health check; the value goes only in ROTOR_SECRET and output
// is reported only as a masked tail (docs/security.md).
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RotorError, isRotorError } from '../../errors.js';
import { hookProcessesStopping, signalHookGroup, trackHookProcess } from './hook-processes.js';
import { createOutputMasker } from './mask-output.js';
import type { StageStep } from '../../policy/stage-schema.js';

export interface StepTarget {
  secret: string;
  environment: string;
  versionId: string;
  rotationId: string;
  /** The value the step is about: the new version's, or the restored one's after a rollback. */
  value: string;
  /** The secret's other live values here (current, previous, the rolled-back new one): masked too. */
  otherValues?: readonly string[];
}

export interface StepDeps {
  /** Rotor's process environment; ROTOR_* variables in it never reach a command. */
  env: NodeJS.ProcessEnv;
  /** Directory that relative `cwd:` resolves against (rotor.yaml's). */
  baseDir: string;
  /** The current value of another secret in the same environment (HMAC keys by reference). */
  readSecret(name: string): Promise<string | undefined>;
  /** Logs in with the target value and runs a statement (database kinds). */
  runSql?(statement: string, timeoutMs: number): Promise<number>;
}

const OUTPUT_TAIL = 400;

/** Runs `step` with its retries; resolves with a short description of what answered. */
export async function runStep(
  step: StageStep,
  target: StepTarget,
  deps: StepDeps,
): Promise<string> {
  let lastError: unknown;
  for (let attempt = 0; attempt <= step.retries; attempt += 1) {
    if (attempt > 0 && step.intervalMs > 0) await sleep(step.intervalMs);
    try {
      return await runOnce(step, target, deps);
    } catch (error) {
      lastError = error;
    }
  }
  const why = isRotorError(lastError)
    ? lastError.message
    : lastError instanceof Error
      ? lastError.message
      : String(lastError);
  const tries = step.retries > 0 ? ` (after ${step.retries + 1} attempts)` : '';
  // Masked again as a whole: a driver's or fetch's message may quote the value too.
  throw new RotorError(
    'ERR_ROTOR_STAGE_FAILED',
    `${target.secret}/${target.environment}: ${step.stage} step "${step.name}" failed${tries}: ${maskerFor(target)(why)}`,
    {
      details: { stage: step.stage, step: step.name },
    },
  );
}

function maskerFor(target: StepTarget): (text: string) => string {
  return createOutputMasker([target.value, ...(target.otherValues ?? [])]);
}

async function runOnce(step: StageStep, target: StepTarget, deps: StepDeps): Promise<string> {
  switch (step.type) {
    case 'command':
      return runCommand(step, target, deps);
    case 'http':
      return runHttp(step, target, deps);
    case 'sql': {
      if (!deps.runSql)
        throw new RotorError('ERR_ROTOR_STAGE_FAILED', 'sql steps need a database kind');
      const rows = await deps.runSql(step.statement, step.timeoutMs);
      return `${rows} row(s)`;
    }
  }
}

function childEnv(step: StageStep, target: StepTarget, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // Rotor's own settings (the master key above all) stay with Rotor.
  const inherited = Object.fromEntries(
    Object.entries(env).filter(([k]) => !k.startsWith('ROTOR_')),
  );
  return {
    ...inherited,
    ROTOR_SECRET: target.value,
    ROTOR_SECRET_NAME: target.secret,
    ROTOR_ENV: target.environment,
    ROTOR_VERSION: target.versionId,
    ROTOR_ROTATION: target.rotationId,
    ROTOR_STAGE: step.stage,
  };
}

function runCommand(
  step: Extract<StageStep, { type: 'command' }>,
  target: StepTarget,
  deps: StepDeps,
): Promise<string> {
  const [program, ...args] = step.argv as [string, ...string[]];
  return new Promise((done, fail) => {
    const child = spawn(program, args, {
      cwd: resolve(deps.baseDir, step.cwd ?? '.'),
      env: childEnv(step, target, deps.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a timeout or Ctrl-C stops the hook and everything it started.
      detached: true,
    });
    const untrack = trackHookProcess(child.pid);
    let output = '';
    // Decoded as streams, so a character split across two chunks is not mangled (and missed by the mask).
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    const keep = (chunk: string) => {
      output = (output + chunk).slice(-4 * OUTPUT_TAIL);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (!signalHookGroup(child.pid!, 'SIGTERM')) child.kill('SIGTERM');
      setTimeout(
        () => signalHookGroup(child.pid!, 'SIGKILL') || child.kill('SIGKILL'),
        2000,
      ).unref();
    }, step.timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      untrack();
      if (hookProcessesStopping()) return; // exiting: the journal stays where it is
      fail(
        new RotorError(
          'ERR_ROTOR_STAGE_FAILED',
          error.code === 'ENOENT'
            ? `${program}: command not found`
            : `${program}: ${error.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      untrack();
      if (hookProcessesStopping()) return; // exiting: the journal stays where it is
      // Masked before it is cut to length, so the cut cannot expose a run the mask would have caught.
      const tail = maskerFor(target)(output.trim()).slice(-OUTPUT_TAIL);
      if (timedOut)
        return fail(
          new Error(`timed out after ${step.timeoutMs} ms${tail ? `; output: ${tail}` : ''}`),
        );
      if (code === 0) return done(`exit 0`);
      fail(
        new Error(
          `${signal ? `killed by ${signal}` : `exit code ${code}`}${tail ? `; output: ${tail}` : ''}`,
        ),
      );
    });
  });
}

async function signingKey(
  step: Extract<StageStep, { type: 'http' }>,
  deps: StepDeps,
): Promise<string | undefined> {
  if (!step.key) return undefined;
  const key = 'env' in step.key ? deps.env[step.key.env] : await deps.readSecret(step.key.secret);
  if (!key) {
    throw new RotorError(
      'ERR_ROTOR_STAGE_FAILED',
      'env' in step.key
        ? `the signing key variable $${step.key.env} is not set`
        : `the signing key secret ${step.key.secret} has no current value`,
    );
  }
  return key;
}

/**
 * The signature a receiver checks: `v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under
 * the shared key, with the timestamp (Unix seconds) in `x-rotor-timestamp`, so a captured
 * request cannot be replayed later or with another body.
 */
export function signBody(key: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
}

async function runHttp(
  step: Extract<StageStep, { type: 'http' }>,
  target: StepTarget,
  deps: StepDeps,
): Promise<string> {
  const url = step.url.replaceAll('{env}', encodeURIComponent(target.environment));
  const key = await signingKey(step, deps);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const body =
    step.method === 'POST'
      ? JSON.stringify({
          event: `rotor.${step.stage}`,
          secret: target.secret,
          environment: target.environment,
          version: target.versionId,
          rotation: target.rotationId,
          step: step.name,
        })
      : '';
  const headers: Record<string, string> = {
    'user-agent': 'rotor',
    'x-rotor-event': `rotor.${step.stage}`,
    'x-rotor-timestamp': timestamp,
  };
  if (step.method === 'POST') headers['content-type'] = 'application/json';
  if (key) headers['x-rotor-signature'] = signBody(key, timestamp, body);
  let response: Response;
  try {
    // Redirects are not followed: a signed request goes only where rotor.yaml says.
    response = await fetch(url, {
      method: step.method,
      headers,
      ...(step.method === 'POST' ? { body } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(step.timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new Error(
      cause === 'TimeoutError'
        ? `no answer within ${step.timeoutMs} ms`
        : `${new URL(url).host} not reachable (${cause})`,
    );
  }
  await response.body?.cancel().catch(() => {});
  const ok =
    step.expect === undefined
      ? response.status >= 200 && response.status < 300
      : response.status === step.expect;
  if (!ok) throw new Error(`answered ${response.status}, expected ${step.expect ?? '2xx'}`);
  return `${response.status}`;
}
