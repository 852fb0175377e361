/** The twins domain's public surface (gateways, the hub, and jobs later use only this). */
export { LIMITS } from './document-rules.js';
export type { JsonObject, JsonValue } from './json.js';
export type { Condition, FieldRef, Query } from './query/ast.js';
export { evaluateWith, matches } from './query/evaluate.js';
export { parseQuery } from './query/parse.js';
export type { QueryPage } from './query/run.js';
export type { Presence, TwinJson } from './twin-json.js';
export { type DesiredChange, type ServiceUpdate, Twins, type TwinsOptions } from './twins.js';
export type { StoredTwin, TwinEntry, TwinPageQuery, TwinStore, TwinWriteResult } from './types.js';
