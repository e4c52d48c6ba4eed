// A ValueSource over the environment `rotor run` prepared: the value is `env[secret]`. The
// environment cannot change under a running process, so this source never signals a change.
import { RotorError } from '../../core/errors.js';
import type { ValueSource } from './value-source.js';

export interface ValueFromEnvOptions {
  /** Where to read the variables (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** The value of a secret from the environment, e.g. under `rotor run --env production -- node app.js`. */
export function valueFromEnv(options: ValueFromEnvOptions = {}): ValueSource {
  const env = options.env ?? process.env;
  return {
    async load(secret) {
      const value = env[secret];
      if (value === undefined || value === '') {
        throw new RotorError(
          'ERR_ROTOR_VALUE_MISSING',
          `${secret} is not set: start the app with \`rotor run --env <environment> -- …\``,
          { details: { variable: secret } },
        );
      }
      return value;
    },
    watch: () => () => undefined,
    close: async () => undefined,
  };
}
