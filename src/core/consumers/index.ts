// Consumers: the live clients of `rotor serve` and the versions they hold.
export { recordHeartbeats, pruneConsumers, consumerOwnedByOther } from './record-heartbeat.js';
export { listConsumers, consumersBehind, assertConsumersCaughtUp } from './list-consumers.js';
export type { ConsumerFilter, ConsumerBehind } from './list-consumers.js';
export * from './consumer-record.js';
