// Provider admin credentials are named by reference in rotor.yaml, like the database kinds'
// admin URL: an environment variable or another Rotor secret, read at run time, never written
// in the file and never quoted in an error.
import { z } from 'zod';
import { RotorError } from '../../core/errors.js';
import { ENV_VAR_NAME, SECRET_NAME } from '../../core/policy/policy-schema.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';

/**
 * `{ env: VARIABLE }` or `{ secret: NAME }`; `error` is the one message for anything else (most
 * often the credential itself pasted in), so it says what the reference stands for.
 */
export function referenceSchema(error: string) {
  return z.union(
    [
      z.strictObject({
        env: z.string().regex(ENV_VAR_NAME, 'an environment variable name'),
      }),
      z.strictObject({
        secret: z.string().regex(SECRET_NAME, 'a secret name from rotor.yaml'),
      }),
    ],
    { error },
  );
}

export const credentialRef = referenceSchema(
  'a credential must be { env: VARIABLE } or { secret: NAME }: a reference, never the credential itself',
);

/** The database kinds' admin connection URL, by reference (the URL holds a password). */
export const adminUrlRef = referenceSchema(
  'admin must be { env: VARIABLE } or { secret: NAME }: a reference to the admin URL, never the URL itself (it has a password)',
);

export type CredentialRef = z.infer<typeof credentialRef>;

export function describeRef(ref: CredentialRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `secret ${ref.secret}`;
}

/** The credential `ref` names, read now; `shape` tells the operator what it must hold. */
export async function readCredential(
  ctx: RotatorContext<unknown>,
  ref: CredentialRef,
  what: string,
  shape: string,
): Promise<string> {
  const value = 'env' in ref ? ctx.env?.[ref.env] : await ctx.readSecret?.(ref.secret);
  if (!value) {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_ADMIN_MISSING',
      `${ctx.secret}/${ctx.environment}: the ${what} is not set (rotor.yaml names ${describeRef(ref)}; it must hold ${shape}); nothing was changed`,
      {
        details: {
          secret: ctx.secret,
          environment: ctx.environment,
          ref: describeRef(ref),
        },
      },
    );
  }
  return value;
}
