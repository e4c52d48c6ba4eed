// The ROTOR_* environment variables that tune the server: one parser, one error for a bad value.
import { RotorError } from '../core/errors.js';

export interface PositiveSetting {
  /** The environment variable, named in the error. */
  variable: string;
  /** An explicit option wins over the variable. */
  option: number | undefined;
  env: NodeJS.ProcessEnv;
  fallback: number;
}

/** A whole number of at least 1: the option, else the variable, else the fallback. */
export function positiveIntegerSetting(setting: PositiveSetting): number {
  const raw = setting.option ?? setting.env[setting.variable];
  if (raw === undefined || raw === '') return setting.fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RotorError(
      'ERR_ROTOR_SETTING_INVALID',
      `invalid ${setting.variable} "${String(raw).slice(0, 64)}": use a whole number of at least 1`,
      { details: { variable: setting.variable } },
    );
  }
  return n;
}
