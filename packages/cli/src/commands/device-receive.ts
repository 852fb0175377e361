/**
 * `ferry device receive <id>`: a device simulator (what `az iot device simulate` shows for C2D).
 * It connects as the device over MQTT, AMQP or HTTPS, prints each message as it arrives and
 * settles it as asked (complete by default), reconnecting by itself, until Ctrl+C or --count.
 * With --method-status it also answers every direct method with that status (and
 * --method-payload), printing each call.
 */
import { type DeviceClient, ExponentialBackoffWithJitter } from '@ferry/device';
import { parse, str, usageError } from '../args.js';
import { deviceClient } from '../clients.js';
import { explained } from '../hub-errors.js';
import type { Io } from '../io.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { parseTransport } from './device-send-event.js';
import { formatMessage, messageJson, settlementNote } from './message-print.js';
import { jsonArg } from './method.js';

const OPTIONS = {
  ...TARGET_OPTIONS,
  transport: { type: 'string' },
  complete: { type: 'boolean' },
  reject: { type: 'boolean' },
  abandon: { type: 'boolean' },
  count: { type: 'string' },
  json: { type: 'boolean' },
  'method-status': { type: 'string' },
  'method-payload': { type: 'string' },
} as const;

interface MethodAnswer {
  status: number;
  payload: unknown;
}

/** --method-status / --method-payload: the answer to every method, or undefined when methods are not answered. */
function parseMethodAnswer(values: Record<string, unknown>, transport: string): MethodAnswer | undefined {
  const status = str(values['method-status'] as string | undefined);
  const payloadText = str(values['method-payload'] as string | undefined);
  if (status === undefined) {
    if (payloadText !== undefined) throw usageError('--method-payload goes with --method-status', USAGE.device);
    return undefined;
  }
  if (!/^\d{1,9}$/.test(status))
    throw usageError(`--method-status takes a whole number like 200; got "${status}"`, USAGE.device);
  if (transport === 'https') {
    throw usageError(
      'direct methods need a connection the hub can call on: use --transport mqtt, mqtt-ws, amqp or amqp-ws',
      USAGE.device,
    );
  }
  return { status: Number(status), payload: jsonArg(payloadText, '--method-payload', USAGE.device) };
}

/** Answers every method call with `answer`, printing each one. */
function answerMethods(client: DeviceClient, answer: MethodAnswer, json: boolean, io: Io): Promise<void> {
  return client.setMethodDefaultHandler((request) => {
    if (json) io.out(JSON.stringify({ method: request.methodName, payload: request.payload, answered: answer }));
    else
      io.out(
        `Method ${request.methodName} called with ${JSON.stringify(request.payload)}; answered ${answer.status} ${JSON.stringify(answer.payload)}\n`,
      );
    return answer;
  });
}

export async function deviceReceive(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS, USAGE.device, 1);
  const deviceId = positionals[0];
  if (!deviceId) throw usageError('device receive needs a device id', USAGE.device);
  const transport = parseTransport(str(values.transport), USAGE.device);
  const methodAnswer = parseMethodAnswer(values, transport);
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
  const waiting = `Waiting for messages${methodAnswer ? ` and method calls (answered ${methodAnswer.status})` : ''} (Ctrl+C to stop)...`;
  // Said once the first connection is ready (methods included), then again after each reconnect.
  let ready = false;
  client.on('state', (state, err) => {
    if (state === 'reconnecting') io.err(`Connection lost (${err?.message ?? 'no reason given'}); reconnecting...`);
    if (state === 'connected' && ready) io.err(`Connected again. ${waiting}`);
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
    if (methodAnswer) await explained(() => answerMethods(client, methodAnswer, json, io), target, {}, deviceId);
    ready = true;
    io.err(`Connected to ${target.cs.hostName} as ${deviceId} over ${transport}. ${waiting}`);
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
