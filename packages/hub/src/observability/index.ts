export { createLogger } from './logger.js';
export { meteredEngine } from './metered-engine.js';
export { type ConnectionSource, HubMetrics } from './metrics.js';
export { type OperationsHandler, type OperationsOptions, operationsHandler } from './operations.js';
