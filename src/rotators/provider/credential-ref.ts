// Provider admin credentials are named by reference in rotor.yaml, like the database kinds'
// admin URL: an environment variable or another Rotor secret, read at run time, never written
// in the file and never quoted in an error.
import { z } from 'zod';
import { RotorError } from '../../core/errors.js';
import { ENV_VAR_NAME, SECRET_NAME } from '../../core/policy/policy-schema.js';
import type { RotatorContext } from '../../core/rotation/rotator-contract.js';

export const credentialRef = z.union(
  [
    z.strictObject({
      env: z.string().regex(ENV_VAR_NAME, 'an environment variable name'),
    }),
    z.strictObject({
      secret: z.string().regex(SECRET_NAME, 'a secret name from rotor.yaml'),
    }),
  ],
  {
    error:
      'a credential must be { env: VARIABLE } or { secret: NAME }: a reference, never the credential itself',
  },
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
