/**
 * The `$iothub/...` topics of twins and direct methods, as azure-iot-device-mqtt speaks them and
 * the hub answers (packages/hub/src/gateways/mqtt/twin.ts and methods.ts). Pure: strings only.
 */
import { c2dSubscription } from '@ferry/common';
import type { Feature, TwinOperation } from './transport.js';

/** The filters a feature subscribes to. */
export function featureFilters(feature: Feature, deviceId: string): string[] {
  if (feature === 'c2d') return [c2dSubscription(deviceId)];
  if (feature === 'twin') return ['$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#'];
  return ['$iothub/methods/POST/#'];
}

/** C2D needs QoS 1 (a message stays the device's until it completes it with PUBACK); the hub grants the rest QoS 0. */
export const featureQos = (feature: Feature): 0 | 1 => (feature === 'c2d' ? 1 : 0);

const TWIN_PATHS: Readonly<Record<TwinOperation, string>> = {
  get: '$iothub/twin/GET/',
  'patch-reported': '$iothub/twin/PATCH/properties/reported/',
};

export function twinRequestTopic(operation: TwinOperation, rid: string): string {
  return `${TWIN_PATHS[operation]}?$rid=${encodeURIComponent(rid)}`;
}

export function methodAnswerTopic(status: number, rid: string): string {
  return `$iothub/methods/res/${status}/?$rid=${encodeURIComponent(rid)}`;
}

/** What a PUBLISH from the hub under `$iothub/` is. */
export type IotHubTopic =
  | { kind: 'twin-reply'; status: number; rid: string; version: number | undefined }
  | { kind: 'desired'; version: number | undefined }
  | { kind: 'method'; methodName: string; rid: string };

function query(topic: string): URLSearchParams {
  const q = topic.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : topic.slice(q + 1));
}

function versionOf(params: URLSearchParams): number | undefined {
  const v = params.get('$version');
  return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** A `$iothub/...` topic, or undefined when it is none of these (C2D topics are not). */
export function parseIotHubTopic(topic: string): IotHubTopic | undefined {
  const params = query(topic);
  const reply = /^\$iothub\/twin\/res\/(\d+)\//.exec(topic);
  if (reply) {
    const rid = params.get('$rid');
    return rid ? { kind: 'twin-reply', status: Number(reply[1]), rid, version: versionOf(params) } : undefined;
  }
  if (topic.startsWith('$iothub/twin/PATCH/properties/desired/'))
    return { kind: 'desired', version: versionOf(params) };
  const method = /^\$iothub\/methods\/POST\/([^/?]+)\//.exec(topic);
  if (method) {
    const rid = params.get('$rid');
    return rid ? { kind: 'method', methodName: method[1]!, rid } : undefined;
  }
  return undefined;
}
