// rotor/jwt: dual-key JWT keyrings for applications. Sign with the current Rotor version,
// verify by kid with the current, standby and in-grace previous versions, reload on rotation.
// Imports nothing from the CLI or the server.
export { createJwtKeys, DEFAULT_MAX_TOKEN_BYTES, MAX_KID_LENGTH } from './jwt-keys.js';
export type { JwtKeys, JwtKeysOptions, SignOptions, VerifyOptions } from './jwt-keys.js';
export type { JwtClaims, JwtHeader, VerifiedJwt } from './jwt-types.js';
export type { RevocationCheck } from './revocation-check.js';
export type { KeySet, KeySource, KeyStage, KeyVersion } from './key-source.js';
export { fromEnv } from './from-env.js';
export type { FromEnvOptions } from './from-env.js';
export { fromStore } from './from-store.js';
export { fromStaticKey } from './from-static.js';
export type { FromStaticKeyOptions } from './from-static.js';
export type { FromStoreOptions } from './from-store.js';
export { RotorError, isRotorError } from '../../core/errors.js';
export type { RotorErrorCode } from '../../core/errors.js';
