/**
 * The telemetry topic a device publishes to: `devices/{id}/messages/events/{property bag}`, the bag
 * as the official clients write it (system properties `$.mid`, `$.cid`, `$.uid`, `$.ct`, `$.ce`,
 * `$.exp`, then the application properties, each URI-encoded). Pure: topic -> device id + message.
 */
import { decodePropertyBag, FerryError } from '@ferry/common';
import type { TelemetryMessage } from '../../telemetry/types.js';

const EVENTS = /^devices\/([^/]+)\/messages\/events(?:\/(.*))?$/s;

/** The device id of a telemetry topic, or undefined when the topic is not one. */
export function telemetryTopicDevice(topic: string): string | undefined {
  return EVENTS.exec(topic)?.[1];
}

/**
 * The message a telemetry PUBLISH carries. Throws FerryError ArgumentInvalid for a bag that cannot
 * be decoded (bad percent-encoding, an empty name, a bad `$.exp`).
 */
export function telemetryFromPublish(topic: string, payload: Buffer): TelemetryMessage {
  const bag = EVENTS.exec(topic)?.[2] ?? '';
  const m: TelemetryMessage = { properties: {}, body: payload };
  for (const [key, value] of decodePropertyBag(bag)) {
    const v = value ?? '';
    switch (key) {
      case '$.mid':
        m.messageId = v;
        break;
      case '$.cid':
        m.correlationId = v;
        break;
      case '$.uid':
        m.userId = v;
        break;
      case '$.ct':
        m.contentType = v;
        break;
      case '$.ce':
        m.contentEncoding = v;
        break;
      case '$.exp': {
        const t = Date.parse(v);
        if (!Number.isFinite(t))
          throw new FerryError('ArgumentInvalid', `"$.exp" is not a date: ${JSON.stringify(v.slice(0, 40))}`);
        m.expiryTimeUtc = t;
        break;
      }
      case '$.to':
        // The hub's own address for the device's events; nothing to keep.
        break;
      case '$.sub':
        m.componentName = v;
        break;
      case '$.ifid':
        m.properties['iothub-interface-id'] = v;
        break;
      default:
        m.properties[key] = v;
    }
  }
  return m;
}
