// API tokens over HTTP (admin only) and `whoami` for any token. A created token is in the
// answer once and nowhere else.
import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { createApiToken, TOKEN_NAME } from '../../core/tokens/create-token.js';
import { listApiTokens } from '../../core/tokens/list-tokens.js';
import { revokeApiToken, TOKEN_ID } from '../../core/tokens/revoke-token.js';
import { ENV_GLOB, SECRET_GLOB, TOKEN_ROLES } from '../../core/tokens/token-grant.js';
import { actorOf, principalOf } from '../auth/api-auth.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { reason } from '../schemas.js';

export const tokenRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/whoami',
    permission: 'self.read',
    summary: 'the calling token: id, name, role and grant',
    async handler({ request }) {
      const p = principalOf(request);
      return {
        id: p.id,
        name: p.name,
        role: p.grant.role,
        secrets: p.grant.secrets,
        environments: p.grant.environments,
      };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/tokens',
    permission: 'token.manage',
    summary: 'API tokens (never their secrets), newest first',
    async handler({ deps }) {
      return { tokens: await listApiTokens(await deps.rotor.store(), deps.clock) };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/tokens',
    permission: 'token.manage',
    status: 201,
    summary: 'create an API token; the token text is in this answer only',
    body: z.strictObject({
      name: z.string().regex(TOKEN_NAME, '1-64 characters: letters, digits, . _ @ -'),
      role: z.enum(TOKEN_ROLES),
      secrets: z
        .array(z.string().regex(SECRET_GLOB, 'a secret glob: A-Z, 0-9, _ and *'))
        .max(64)
        .optional()
        .describe('app tokens: secret-name globs (JWT_*)'),
      environments: z
        .array(z.string().regex(ENV_GLOB, 'an environment glob: a-z, 0-9, - and *'))
        .max(64)
        .optional()
        .describe('app tokens: environment globs'),
      expiresIn: z.string().max(32).optional().describe('lifetime, e.g. 90d (default: no expiry)'),
    }),
    async handler({ deps, request, body }) {
      const { token, info } = await createApiToken(
        await deps.rotor.store(),
        deps.clock,
        actorOf(request),
        {
          name: body.name,
          role: body.role,
          ...(body.secrets ? { secrets: body.secrets } : {}),
          ...(body.environments ? { environments: body.environments } : {}),
          ...(body.expiresIn ? { expiresInMs: parseDuration(body.expiresIn) } : {}),
        },
      );
      return { token, ...info };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/tokens/:id/revoke',
    permission: 'token.manage',
    summary: 'revoke an API token at once',
    params: z.strictObject({ id: z.string().regex(TOKEN_ID, 'a token id: 16 hex characters') }),
    body: z.strictObject({ reason }),
    async handler({ deps, request, params, body }) {
      return revokeApiToken(await deps.rotor.store(), deps.clock, actorOf(request), {
        id: params.id,
        reason: body.reason,
      });
    },
  }),
];
