// Who may do what: each route names one permission, each role holds a fixed set of them. An
// `app` token's `secret.read` is further narrowed to the secrets and environments it was granted
// (checked by the route, which knows the secret and environment).
import type { TokenRole } from '../../core/tokens/token-grant.js';

export const PERMISSIONS = [
  'inventory.read',
  'rotate',
  'emergency',
  'retire',
  'resume',
  'audit.read',
  'secret.read',
  'token.manage',
  'self.read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Readonly<Record<TokenRole, ReadonlySet<Permission>>> = {
  admin: new Set(PERMISSIONS),
  operator: new Set<Permission>([
    'inventory.read',
    'rotate',
    'emergency',
    'retire',
    'resume',
    'audit.read',
    'self.read',
  ]),
  auditor: new Set<Permission>(['inventory.read', 'audit.read', 'self.read']),
  app: new Set<Permission>(['secret.read', 'self.read']),
};

export function roleAllows(role: TokenRole, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}
