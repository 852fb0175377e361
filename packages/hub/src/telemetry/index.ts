export { partitionOf } from './partition.js';
export { DEFAULT_CONSUMER_GROUP, Telemetry, type TelemetryOptions } from './telemetry.js';
export * from './types.js';
