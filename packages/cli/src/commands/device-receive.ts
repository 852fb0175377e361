/**
 * `ferry device receive <id>`: a device simulator (what `az iot device simulate` shows for C2D).
 * It connects as the device over MQTT, AMQP or HTTPS, prints each message as it arrives and
 * settles it as asked (complete by default), reconnecting by itself, until Ctrl+C or --count.
 */
import { DEVICE_TRANSPORTS, type DeviceTransportName, ExponentialBackoffWithJitter } from '@ferry/device';
import { parse, str, usageError } from '../args.js';
import { deviceClient } from '../clients.js';
import { explained } from '../hub-errors.js';
import type { Io } from '../io.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { formatMessage, messageJson, settlementNote } from './message-print.js';

const OPTIONS = {
  ...TARGET_OPTIONS,
  transport: { type: 'string' },
  complete: { type: 'boolean' },
  reject: { type: 'boolean' },
  abandon: { type: 'boolean' },
  count: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function deviceReceive(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS, USAGE.device, 1);
  const deviceId = positionals[0];
  if (!deviceId) throw usageError('device receive needs a device id', USAGE.device);
  const transport = (str(values.transport) ?? 'mqtt') as DeviceTransportName;
  if (!DEVICE_TRANSPORTS.includes(transport)) {
    throw usageError(`--transport must be one of ${DEVICE_TRANSPORTS.join(', ')}; got "${transport}"`, USAGE.device);
  }
  const chosen = (['complete', 'reject', 'abandon'] as const).filter((s) => values[s] === true);
  if (chosen.length > 1)
    throw usageError(`choose one of --complete, --reject, --abandon; got --${chosen.join(' --')}`, USAGE.device);
  const settle = chosen[0] ?? 'complete';
  if (settle !== 'complete' && transport.startsWith('mqtt')) {
    throw usageError(
      `MQTT cannot ${settle} messages (PUBACK only completes); use --transport amqp or https`,
      USAGE.device,
    );
  }
  const countText = str(values.count);
  if (countText !== undefined && !/^[1-9]\d*$/.test(countText)) {
    throw usageError(`--count takes a whole number above 0; got "${countText}"`, USAGE.device);
  }
  const count = countText === undefined ? Number.POSITIVE_INFINITY : Number(countText);
  const json = values.json === true;

  const target = await resolveTarget(values, io);
  const client = await deviceClient(
    target,
    deviceId,
    transport,
    new ExponentialBackoffWithJitter({ maxAttempts: 1000 }),
  );
  client.on('state', (state, err) => {
    if (state === 'reconnecting') io.err(`Connection lost (${err?.message ?? 'no reason given'}); reconnecting...`);
    if (state === 'connected')
      io.err(
        `Connected to ${target.cs.hostName} as ${deviceId} over ${transport}. Waiting for messages (Ctrl+C to stop)...`,
      );
  });
  const stop = () => void client.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await explained(
      () => client.open(),
      target,
      {
        IotHubUnauthorizedAccess: `The hub refused the device's key; is it disabled? (\`npx ferry device show ${deviceId}\`)`,
      },
      deviceId,
    );
    let received = 0;
    for await (const m of client.messages()) {
      const message = { ...m, deviceId };
      await explained(() => client[settle](m), target, {}, deviceId);
      if (json) io.out(JSON.stringify(messageJson(message, settle)));
      else io.out(`${formatMessage(message)}\n${settlementNote(message, settle)}\n`);
      if (++received >= count) break;
    }
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await client.close();
  }
}
