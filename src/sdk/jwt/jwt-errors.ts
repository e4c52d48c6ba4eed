// The errors a keyring throws: one RotorError per failure, with the code callers branch on.
import { RotorError, type RotorErrorCode } from '../../core/errors.js';
import type { StrictJsonResult } from './strict-json.js';

export function fail(code: RotorErrorCode, message: string): RotorError {
  return new RotorError(code, message);
}

export function optionsInvalid(message: string): RotorError {
  return new RotorError('ERR_ROTOR_JWT_OPTIONS_INVALID', message);
}

export function notReady(secret: string): RotorError {
  return fail(
    'ERR_ROTOR_JWT_NOT_READY',
    `the ${secret} keyring is not loaded yet: await ready() first`,
  );
}

const JSON_WHY = {
  utf8: 'is not valid UTF-8',
  syntax: 'is not JSON',
  'not-object': 'is not a JSON object',
} as const;

export function jsonFailure(
  part: 'header' | 'payload',
  result: Exclude<StrictJsonResult, { ok: true }>,
): RotorError {
  if (result.why === 'duplicate')
    return fail('ERR_ROTOR_JWT_DUPLICATE_MEMBER', `the ${part} repeats a member name`);
  return fail('ERR_ROTOR_JWT_MALFORMED', `the ${part} ${JSON_WHY[result.why]}`);
}
