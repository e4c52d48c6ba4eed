// What rotor/pg and rotor/mysql both export besides their pool, listed once.
export type { ValueSource } from './value-source.js';
export { valueFromEnv, type ValueFromEnvOptions } from './from-env.js';
export { valueFromStore, type ValueFromStoreOptions } from './from-store.js';
export type { PoolSwap, SwappingPool } from './swapping-pool.js';
