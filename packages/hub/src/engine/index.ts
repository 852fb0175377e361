export { Engine, type EngineOptions } from './engine.js';
export type { C2dEngine, SendResult } from './types.js';
