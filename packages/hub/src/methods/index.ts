/** The direct methods domain's public surface (gateways and the hub use only this). */
export { Methods, type MethodsOptions } from './methods.js';
export type {
  AnswerOutcome,
  LocalMethods,
  MethodCall,
  MethodObserver,
  MethodOutcome,
  MethodRelay,
  MethodRequest,
  MethodResult,
  MethodSink,
} from './types.js';
export { LIMITS as METHOD_LIMITS, parseMethodCall } from './validate.js';
