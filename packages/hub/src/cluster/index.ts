export { InProcessSignalBus } from './in-process-signal-bus.js';
export { PostgresSignalBus } from './postgres-signal-bus.js';
export type { ClusterEvents, ConnectionProtocol, SignalBus } from './signal-bus.js';
