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
