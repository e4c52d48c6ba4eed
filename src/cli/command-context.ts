// The context every command receives: the Rotor instance, the acting operator and request id,
// and the process's streams.
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Actor } from '../core/audit/audit-log.js';
import { createLogger, createRotor, type Rotor } from '../core/context.js';
import type { Clock } from '../core/clock.js';
import type { Method } from '../core/store/schema.js';
import { loadPolicyCached } from '../core/policy/load-policy-cached.js';
import { ROTATORS } from '../rotators/registry.js';
import { BUILD_ID } from './build-id.js';
import type { CliIo } from './io.js';
import { lazyLogger } from './lazy/lazy-logger.js';

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  operator?: string;
  json?: boolean;
}

export interface CommandContext {
  rotor: Rotor;
  actor: Actor;
  io: CliIo;
  json: boolean;
}

export function operatorName(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit) return explicit;
  if (env.ROTOR_OPERATOR) return env.ROTOR_OPERATOR;
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? 'unknown';
  }
}

export function createCommandContext(
  io: CliIo,
  options: GlobalOptions,
  extra: { clock?: Clock; method?: Method; discover?: boolean; syncReads?: boolean } = {},
): CommandContext {
  const buildId = BUILD_ID;
  const rotor: Rotor = createRotor({
    cwd: io.cwd,
    ...(extra.discover === false ? { discover: false } : {}),
    ...(extra.syncReads ? { syncReads: true } : {}),
    env: io.env,
    rotators: ROTATORS,
    ...(options.config ? { policyFile: options.config } : {}),
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    ...(extra.clock ? { clock: extra.clock } : {}),
    logger: lazyLogger(() => createLogger(io.env)),
    // The built CLI keeps the validated policy in the state directory (load-policy-cached.ts).
    ...(buildId === undefined
      ? {}
      : {
          loadPolicy: (file, rotators) =>
            loadPolicyCached(file, rotators, { stateDir: rotor.stateDir, buildId }),
        }),
  });
  return {
    rotor,
    actor: {
      operator: operatorName(options.operator, io.env),
      requestId: randomUUID(),
      method: extra.method ?? 'manual',
    },
    io,
    json: Boolean(options.json),
  };
}
