/** The direct methods domain's shapes (protocol-free: gateways map their wire to these). */

/** A service's invocation, validated (REST body of POST /twins/{id}/methods). */
export interface MethodCall {
  methodName: string;
  /** The payload as JSON text (what the device receives). */
  payloadJson: string;
  responseTimeoutMs: number;
  connectTimeoutMs: number;
}

/** The device's answer as the service sees it. */
export interface MethodResult {
  status: number;
  payload: unknown;
}

/** What a device connection is handed: answer it with Methods.answer(deviceId, rid, ...). */
export interface MethodRequest {
  rid: string;
  methodName: string;
  /** JSON text. */
  payloadJson: string;
}

/** A device connection subscribed to direct methods. */
export interface MethodSink {
  deliver(request: MethodRequest): void;
}

/** How an answer was taken: accepted, or ignored and why (the gateway logs it). */
export type AnswerOutcome = 'accepted' | 'unknown-rid' | 'not-json';

/** How an invocation ended, for the metrics: a result label and the seconds it took. */
export type MethodOutcome = 'success' | 'device_not_found' | 'device_not_online' | 'timeout' | 'error';

export interface MethodObserver {
  methodDone(outcome: MethodOutcome, seconds: number): void;
}

/** This node's side of calls routed between nodes (what a relay may ask of it). */
export interface LocalMethods {
  /** Hands the call to the device's connection on this node; undefined when none takes its calls. */
  callHere(deviceId: string, call: MethodCall): Promise<MethodResult> | undefined;
  isAttached(deviceId: string): boolean;
  /** The devices whose calls a connection on this node takes. */
  attachedDevices(): string[];
}

/**
 * Routes calls between the nodes of one hub (several nodes on PostgreSQL): a call for a device
 * no connection on this node takes goes to the node whose connection does, or waits for one to
 * attach anywhere within the connect timeout.
 */
export interface MethodRelay {
  invoke(deviceId: string, call: MethodCall): Promise<MethodResult>;
  /** A connection on this node now takes the device's calls: it claims the calls waiting for it. */
  attached(deviceId: string): void;
  /** The hub stops: no more listening nor background work. */
  stop(): void;
}
