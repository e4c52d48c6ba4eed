// A KeySource over the variables `rotor run` prepared (NAME, NAME_KID, NAME_PREVIOUS…:
// docs/apps.md); the environment cannot change, so a new key arrives with a restart.
import { createHash } from 'node:crypto';
import {
  KID_SUFFIX,
  ON_ROTATE_SUFFIX,
  PREVIOUS_KID_SUFFIX,
  PREVIOUS_UNTIL_SUFFIX,
  readKidVariable,
  type KidDescriptor,
} from '../../core/delivery/kid-variable.js';
import { RotorError } from '../../core/errors.js';
import { keyVersionFrom } from './key-material.js';
import type { KeySet, KeySource, KeyVersion } from './key-source.js';

export interface FromEnvOptions {
  /** Where to read the variables (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

function invalid(message: string, variable: string): RotorError {
  return new RotorError('ERR_ROTOR_JWT_SOURCE_INVALID', message, { details: { variable } });
}

function descriptor(
  env: NodeJS.ProcessEnv,
  name: string,
  valueVariable: string,
  kidVariable: string,
): KidDescriptor {
  const value = env[valueVariable]!;
  const text = env[kidVariable];
  if (text === undefined || text === '') {
    throw invalid(
      `${kidVariable} is not set beside ${valueVariable}: start the app with \`rotor run\` (it delivers the kid of jwt-hmac and jwt-keypair secrets)`,
      kidVariable,
    );
  }
  const read = readKidVariable(name, text, value);
  if (read === 'malformed')
    throw invalid(
      `${kidVariable} is not a Rotor kid descriptor (<kid>.<alg>.<encoding>.<check>)`,
      kidVariable,
    );
  if (read === 'mismatch') {
    throw new RotorError(
      'ERR_ROTOR_JWT_SOURCE_KID_MISMATCH',
      `${kidVariable} does not describe the value in ${valueVariable} (another version's kid, or a value changed without its kid): deliver both with \`rotor run\``,
      {
        details: { variable: kidVariable },
      },
    );
  }
  return read;
}

/** Reads the key set of `name` from `env`. */
export function keySetFromEnv(env: NodeJS.ProcessEnv, name: string): KeySet {
  const value = env[name];
  if (value === undefined || value === '')
    throw invalid(
      `${name} is not set: start the app with \`rotor run --env <environment> -- …\``,
      name,
    );
  const current = descriptor(env, name, name, `${name}${KID_SUFFIX}`);
  const versions: KeyVersion[] = [
    keyVersionFrom({ secret: name, ...current, stage: 'current', value }),
  ];
  const revision = createHash('sha256').update(`${name}\0${env[`${name}${KID_SUFFIX}`]}`);

  const previousVariable = `${name}_PREVIOUS`;
  const previousValue = env[previousVariable];
  const previousKid = env[`${name}${PREVIOUS_KID_SUFFIX}`];
  if (previousValue !== undefined && previousValue !== '') {
    const previous = descriptor(env, name, previousVariable, `${name}${PREVIOUS_KID_SUFFIX}`);
    const untilVariable = `${name}${PREVIOUS_UNTIL_SUFFIX}`;
    const untilText = env[untilVariable];
    const until = untilText === undefined ? Number.NaN : Date.parse(untilText);
    if (!Number.isFinite(until))
      throw invalid(
        `${untilVariable} must hold the ISO time the grace window of ${previousVariable} ends`,
        untilVariable,
      );
    if (previous.kid === current.kid)
      throw invalid(
        `${previousVariable} and ${name} carry the same kid`,
        `${name}${PREVIOUS_KID_SUFFIX}`,
      );
    versions.push(
      keyVersionFrom({
        secret: name,
        ...previous,
        stage: 'previous',
        value: previousValue,
        acceptUntil: until,
      }),
    );
    revision.update(`\0${previousKid}\0${untilText}`);
  } else if (previousKid !== undefined && previousKid !== '') {
    throw invalid(
      `${name}${PREVIOUS_KID_SUFFIX} is set without ${previousVariable}`,
      `${name}${PREVIOUS_KID_SUFFIX}`,
    );
  }

  const onRotateVariable = `${name}${ON_ROTATE_SUFFIX}`;
  const onRotate = env[onRotateVariable];
  if (onRotate !== undefined && onRotate !== 'invalidate' && onRotate !== 'dual-validate') {
    throw invalid(`${onRotateVariable} must be invalidate or dual-validate`, onRotateVariable);
  }
  return {
    secret: name,
    versions,
    // The environment knows only live keys: a retired kid is reported as unknown.
    retired: new Map(),
    onRotate: onRotate === 'invalidate' ? 'invalidate' : 'dual-validate',
    revision: revision.update(`\0${onRotate ?? ''}`).digest('base64url'),
  };
}

/**
 * Keys from the environment `rotor run` prepared.
 *
 * @example
 * // rotor run --env production -- node server.js
 * const keys = createJwtKeys({ secret: 'JWT_ACCESS_SECRET', source: fromEnv(), issuer, audience, maxAge: '15m' });
 */
export function fromEnv(options: FromEnvOptions = {}): KeySource {
  const env = options.env ?? process.env;
  return {
    load: async (secret) => keySetFromEnv(env, secret),
    watch: () => () => undefined,
    close: async () => undefined,
  };
}
