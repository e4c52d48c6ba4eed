// rotor/client: live delivery of secrets from `rotor serve` to applications, and `fromServer`
// for rotor/jwt keyrings. Imports nothing from the CLI, the server or SQLite.
export { createClient } from './create-client.js';
export { fromServer } from './from-server.js';
export type { FromServerOptions } from './from-server.js';
export type {
  ChangeEvent,
  ClientOptions,
  HeldValue,
  HeldVersion,
  KeyInfo,
  LiveState,
  RotorClient,
} from './client-types.js';
export { RotorError, isRotorError } from '../../core/errors.js';
export type { RotorErrorCode } from '../../core/errors.js';
