// `rotor/tokens`: refresh-token families with reuse detection, session revocation and a
// synchronous revocation check, over an in-memory, PostgreSQL or Redis store. Imports neither
// the CLI nor the server.
export {
  createRefreshTokens,
  RESERVED_CLAIMS,
  type RefreshKeyring,
  type RefreshTokens,
  type RefreshTokensOptions,
  type RefreshResult,
  type IssuedRefreshToken,
} from './refresh-tokens.js';
export {
  createRevocationCheck,
  type RevocationCheck,
  type RevocationCheckOptions,
  type SessionRevocationCache,
} from './revocation-check.js';
export { createMemoryTokenStore } from '../../core/sessions/stores/memory-store.js';
export {
  createPostgresTokenStore,
  type PostgresTokenStoreOptions,
} from '../../core/sessions/stores/postgres-store.js';
export {
  createRedisTokenStore,
  type RedisTokenStoreOptions,
} from '../../core/sessions/stores/redis-store.js';
export type {
  TokenStore,
  FamilyRecord,
  RotateOutcome,
  SessionScope,
  SessionChange,
  SessionChanges,
  CreateFamilyInput,
  RotateFamilyInput,
  RevokeSessionsInput,
} from '../../core/sessions/stores/token-store.js';
export { RotorError, isRotorError, type RotorErrorCode } from '../../core/errors.js';
