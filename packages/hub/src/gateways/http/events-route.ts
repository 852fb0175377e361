/**
 * Device telemetry over HTTPS: `POST /devices/{id}/messages/events`, one message (body = payload,
 * system properties in iothub-* headers, application properties in iothub-app-*) or a batch
 * (Content-Type application/vnd.microsoft.iothub.json: a JSON array of {body: base64,
 * properties}, as the official client's sendEventBatch writes it). 204 once durable.
 */
import { FerryError, headerReader } from '@ferry/common';
import type { TelemetryMessage, TelemetrySender } from '../../telemetry/types.js';
import { MAX_TELEMETRY_BYTES } from '../../telemetry/types.js';
import { readBody } from './body.js';
import { sendNoContent } from './respond.js';
import type { Route } from './router.js';
import { messageFromHeaders } from './send-route.js';

const BATCH_TYPE = 'application/vnd.microsoft.iothub.json';
const APP_PREFIX = 'iothub-app-';
/** The message's component, a header (and batch property) without the iothub-app- prefix. */
const DT_SUBJECT = 'dt-subject';

function argumentInvalid(text: string): FerryError {
  return new FerryError('ArgumentInvalid', text);
}

/** The messages of a batch body. Throws ArgumentInvalid when it is not one. */
export function parseBatch(body: Buffer): TelemetryMessage[] {
  let items: unknown;
  try {
    items = JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw new FerryError('ArgumentInvalid', 'The batch is not valid JSON', { cause });
  }
  if (!Array.isArray(items)) throw argumentInvalid('A batch is a JSON array of {"body": base64, "properties": {...}}');
  return items.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null) throw argumentInvalid(`Batch item ${i} is not an object`);
    const { body, properties } = item as { body?: unknown; properties?: unknown };
    if (typeof body !== 'string') throw argumentInvalid(`Batch item ${i} has no base64 "body"`);
    const m: TelemetryMessage = { properties: {}, body: Buffer.from(body, 'base64') };
    if (properties !== undefined) {
      if (typeof properties !== 'object' || properties === null) {
        throw argumentInvalid(`Batch item ${i}: "properties" must be an object`);
      }
      for (const [k, v] of Object.entries(properties)) {
        if (typeof v !== 'string') throw argumentInvalid(`Batch item ${i}: property "${k}" must be a string`);
        const name = k.toLowerCase().startsWith(APP_PREFIX) ? k.slice(APP_PREFIX.length) : k;
        if (name === '') throw argumentInvalid(`Batch item ${i}: a property name is empty`);
        if (k.toLowerCase() === DT_SUBJECT) m.componentName = v;
        else m.properties[name] = v;
      }
    }
    return m;
  });
}

export const eventsRoute: Route = {
  method: 'POST',
  path: '/devices/{id}/messages/events',
  operation: (params) => ({ permission: 'DeviceConnect', deviceId: params.id! }),
  async handle({ ctx, req, res, params, principal }) {
    const telemetry = ctx.telemetry;
    if (!telemetry) throw new FerryError('NotImplemented', 'Device-to-cloud telemetry is not served here');
    const deviceId = params.id!;
    const body = await readBody(req, Math.max(ctx.config.http.maxBodyBytes, MAX_TELEMETRY_BYTES));
    const read = headerReader(req.headers);
    let messages: TelemetryMessage[];
    if ((read('content-type') ?? '').toLowerCase().startsWith(BATCH_TYPE)) {
      messages = parseBatch(body);
    } else {
      const fields = messageFromHeaders(req);
      const m: TelemetryMessage = { properties: fields.properties ?? {}, body };
      const contentType = read('iothub-contenttype') ?? fields.contentType;
      const contentEncoding = read('iothub-contentencoding') ?? fields.contentEncoding;
      if (fields.messageId !== undefined) m.messageId = fields.messageId;
      if (fields.correlationId !== undefined) m.correlationId = fields.correlationId;
      if (fields.userId !== undefined) m.userId = fields.userId;
      if (contentType !== undefined) m.contentType = contentType;
      if (contentEncoding !== undefined) m.contentEncoding = contentEncoding;
      if (fields.expiryTimeUtc !== undefined) m.expiryTimeUtc = fields.expiryTimeUtc;
      const component = read(DT_SUBJECT);
      if (component !== undefined) m.componentName = component;
      messages = [m];
    }
    const sender: TelemetrySender = { deviceId, auth: 'sas', scope: principal.kind === 'device' ? 'device' : 'hub' };
    await telemetry.sendAsync(sender, messages);
    sendNoContent(res);
  },
};
