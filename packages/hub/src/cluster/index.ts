export { InProcessSignalBus } from './in-process-signal-bus.js';
export type { SignalBus } from './signal-bus.js';
