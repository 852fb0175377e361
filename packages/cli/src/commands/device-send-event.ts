/**
 * `ferry device send-event <id> [body]` (az iot device send-d2c-message): sends telemetry as the
 * device, over MQTT, AMQP or HTTPS, and says once the hub has it.
 */
import { DEVICE_TRANSPORTS, type DeviceTransportName, type EventMessage } from '@ferry/device';
import { parse, str, usageError } from '../args.js';
import { deviceClient } from '../clients.js';
import { explained } from '../hub-errors.js';
import type { Io } from '../io.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { fitsHeader } from '../wire-text.js';
import { parseBody, parseProperties } from './message-args.js';

const OPTIONS = {
  ...TARGET_OPTIONS,
  transport: { type: 'string' },
  property: { type: 'string', multiple: true },
  'message-id': { type: 'string' },
  'correlation-id': { type: 'string' },
  'content-type': { type: 'string' },
  'content-encoding': { type: 'string' },
  'body-file': { type: 'string' },
  'allow-empty': { type: 'boolean' },
  count: { type: 'string' },
} as const;

/** `--transport`, checked against the device SDK's names. */
export function parseTransport(text: string | undefined, usage: string): DeviceTransportName {
  const transport = (text ?? 'mqtt') as DeviceTransportName;
  if (!DEVICE_TRANSPORTS.includes(transport)) {
    throw usageError(`--transport must be one of ${DEVICE_TRANSPORTS.join(', ')}; got "${transport}"`, usage);
  }
  return transport;
}

export async function deviceSendEvent(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS, USAGE['device send-event'], 2);
  const deviceId = positionals[0];
  const usage = USAGE['device send-event'];
  if (!deviceId) throw usageError('device send-event needs a device id', usage);
  const transport = parseTransport(str(values.transport), usage);
  const countText = str(values.count);
  if (countText !== undefined && !/^[1-9]\d{0,5}$/.test(countText)) {
    throw usageError(`--count takes a whole number from 1 to 999999; got "${countText}"`, usage);
  }
  const count = Number(countText ?? 1);
  const message: EventMessage = {
    body: await parseBody(positionals[1], str(values['body-file']), values['allow-empty'] === true, io, usage),
    properties: parseProperties(values.property, io, usage),
  };
  const fields = {
    messageId: 'message-id',
    correlationId: 'correlation-id',
    contentType: 'content-type',
    contentEncoding: 'content-encoding',
  } as const;
  for (const [key, flag] of Object.entries(fields) as Array<[keyof typeof fields, string]>) {
    const v = str(values[flag]);
    if (v !== undefined && !fitsHeader(v))
      throw usageError(`--${flag} cannot contain line breaks or other control characters`, usage);
    if (v !== undefined) message[key] = v;
  }

  const target = await resolveTarget(values, io);
  const client = await deviceClient(target, deviceId, transport);
  try {
    for (let i = 1; i <= count; i++) {
      await explained(
        () => client.sendEvent(message),
        target,
        {
          MessageTooLarge: 'A device-to-cloud message may have 256 KB of body and properties at most.',
          IotHubUnauthorizedAccess: `The hub refused the device's key; is it disabled? (\`npx ferry device show ${deviceId}\`)`,
        },
        deviceId,
      );
      if (count > 1 && (i % 100 === 0 || i === count)) io.err(`Sent ${i} of ${count}...`);
    }
  } finally {
    await client.close();
  }
  io.out(
    `Sent ${count === 1 ? 'the event' : `${count} events`} as ${deviceId} over ${transport}; the hub has ${count === 1 ? 'it' : 'them'}.`,
  );
  return 0;
}
