/**
 * IoT Hub's fault injection, which Microsoft's SDK end-to-end suites drive (`*_disconnect.js`): a
 * device sends a telemetry message with the application property `AzIoTHub_FaultOperationType`
 * (and `AzIoTHub_FaultOperationDelayInSecs`, `AzIoTHub_FaultOperationCloseReason`), and the hub
 * breaks the connection that sent it that many seconds later: the TCP socket, the AMQP
 * connection, its session or one of its links. Only that device's own connection is touched, so
 * a device can do nothing it could not do by closing its socket. The message itself is telemetry
 * like any other. Operations Ferry does not know (IoT Hub's Throttling, QuotaExceeded, AuthError)
 * are ignored.
 */
import type { TelemetryMessage } from '../telemetry/types.js';

const OPERATIONS = [
  'KillTcp',
  'KillAmqpConnection',
  'KillAmqpSession',
  'KillAmqpCBSLinkReq',
  'KillAmqpCBSLinkResp',
  'KillAmqpD2CLink',
  'KillAmqpC2DLink',
  'KillAmqpTwinLinkReq',
  'KillAmqpTwinLinkResp',
  'KillAmqpMethodReqLink',
  'KillAmqpMethodRespLink',
  'ShutDownAmqp',
  'ShutDownMqtt',
] as const;

export type FaultOperation = (typeof OPERATIONS)[number];

export interface Fault {
  operation: FaultOperation;
  delayMs: number;
  /** The close reason the device asked for, given in the error description. */
  reason: string;
}

/** The longest delay honoured; a larger one is cut to it. */
const MAX_DELAY_S = 300;

/** The fault the messages ask for (the first that asks), or undefined. */
export function requestedFault(messages: readonly TelemetryMessage[]): Fault | undefined {
  for (const { properties } of messages) {
    const operation = properties.AzIoTHub_FaultOperationType as FaultOperation | undefined;
    if (operation === undefined || !OPERATIONS.includes(operation)) continue;
    const seconds = Number(properties.AzIoTHub_FaultOperationDelayInSecs ?? 0);
    const delay = Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), MAX_DELAY_S) : 0;
    const reason = (properties.AzIoTHub_FaultOperationCloseReason ?? '').trim() || `fault injection: ${operation}`;
    return { operation, delayMs: delay * 1000, reason };
  }
  return undefined;
}
