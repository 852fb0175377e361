/**
 * `ferry message send|receive|complete|reject|abandon|purge`: what `az iot device c2d-message`
 * does (and dead-letters|requeue|history, Ferry's extensions: message-inspect.ts). send goes over AMQP and purge over REST as the service (ServiceConnect); receive and
 * the settle commands act as the device over HTTPS with its own key, read from the registry.
 */
import { suggestClosest } from '@ferry/common';
import type { Settlement } from '@ferry/device';
import { usageError } from '../args.js';
import { deviceClient, serviceClient } from '../clients.js';
import { type FeedbackView, isPositive, openFeedbackView } from '../feedback-view.js';
import { explained, type Hints } from '../hub-errors.js';
import type { Io } from '../io.js';
import { type LockedMessages, lockedMessages } from '../locked-messages.js';
import { poll } from '../poll.js';
import { type HubTarget, resolveTarget } from '../target.js';
import { USAGE } from '../usage.js';
import { shellArg } from '../wire-text.js';
import { sendMany } from './job.js';
import { parsePurgeArgs, parseReceiveArgs, parseSendArgs, parseSettleArgs } from './message-args.js';
import { deadLetters, history, requeue } from './message-inspect.js';
import { formatMessage, messageJson, settlementNote } from './message-print.js';

const ACTIONS = [
  'send',
  'send-many',
  'receive',
  'complete',
  'reject',
  'abandon',
  'purge',
  'dead-letters',
  'requeue',
  'history',
];
const PAST: Record<Settlement, string> = { complete: 'Completed', reject: 'Rejected', abandon: 'Abandoned' };

const SERVICE_HINTS: Hints = {
  IotHubUnauthorizedAccess:
    'Sending, purging and reading feedback need ServiceConnect: use the iothubowner or service connection string.',
};

function sendHints(deviceId: string): Hints {
  const id = shellArg(deviceId);
  return {
    ...SERVICE_HINTS,
    DeviceMaximumQueueDepthExceeded: `The queue is full (c2d.maxQueueDepth, 50 by default, locked messages included): let the device take messages (\`npx ferry message receive ${id} --complete\`) or purge with \`npx ferry message purge ${id}\`.`,
    MessageTooLarge:
      'The limit is c2d.maxMessageSize (64 KiB by default), counting the body, the message id and the properties.',
    InvalidMessageExpiryTime:
      'Give an --expiry in the future and at most c2d.maxTtl (2 days by default) away, or a --ttl in seconds.',
  };
}

function deviceSideHints(deviceId: string): Hints {
  const id = shellArg(deviceId);
  return {
    DeviceMessageLockLost: `The lock expired (c2d.lockTimeoutMs, 60 s by default) or the message was settled already; receive it again with \`npx ferry message receive ${id}\`.`,
    IotHubUnauthorizedAccess: `The device's key was refused; is the device disabled? (\`npx ferry device show ${id}\`)`,
  };
}

async function send(args: string[], io: Io): Promise<number> {
  const { values, deviceId, request, waitMs } = await parseSendArgs(args, io);
  const target = await resolveTarget(values, io);
  // Opened before the send, so the message's feedback cannot be made before we listen.
  const view =
    waitMs === undefined
      ? undefined
      : await explained(() => openFeedbackView(target, { deviceId }), target, SERVICE_HINTS, deviceId);
  const service = serviceClient(target);
  try {
    const { expiry, ...rest } = request;
    const { messageId } = await explained(
      () => service.send(deviceId, { ...rest, ...(expiry !== undefined ? { expiry: Date.parse(expiry) } : {}) }),
      target,
      sendHints(deviceId),
      deviceId,
    );
    io.out(messageId);
    if (view === undefined || waitMs === undefined) return 0;
    await service.close();
    return await waitForOwnFeedback(io, view, deviceId, messageId, waitMs, request.ack ?? 'full');
  } finally {
    view?.close();
    await service.close();
  }
}

/** `send --wait`: the feedback of this message only; exit 0 on Success, 1 on any other outcome or none in time. */
async function waitForOwnFeedback(
  io: Io,
  view: FeedbackView,
  deviceId: string,
  messageId: string,
  waitMs: number,
  ack: string,
): Promise<number> {
  io.err(`Waiting up to ${waitMs / 1000} s for the feedback of ${messageId} (the device must settle it)...`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const record = await view.next(deadline - Date.now());
    if (record === undefined) {
      const why =
        ack === 'positive'
          ? ' With --ack positive only a Success is reported.'
          : ack === 'negative'
            ? ' With --ack negative only a failure is reported, so none may mean it was delivered.'
            : '';
      io.err(
        `ferry: no feedback for ${messageId} within ${waitMs / 1000} s: the device has not completed, rejected or abandoned it yet.${why} Check with \`npx ferry feedback --device ${shellArg(deviceId)} --message-id ${shellArg(messageId)}\`.`,
      );
      return 1;
    }
    if (record.originalMessageId !== messageId) continue;
    io.out(`feedback: ${record.originalMessageId} ${record.deviceId} ${record.statusCode} (${record.description})`);
    return isPositive(record) ? 0 : 1;
  }
}

async function asDevice<T>(
  target: HubTarget,
  deviceId: string,
  op: (d: Awaited<ReturnType<typeof deviceClient>>) => Promise<T>,
): Promise<T> {
  const device = await deviceClient(target, deviceId, 'https');
  try {
    return await explained(() => op(device), target, deviceSideHints(deviceId), deviceId);
  } finally {
    await device.close();
  }
}

async function receive(args: string[], io: Io): Promise<number> {
  const { values, deviceId, settle, waitMs, json } = parseReceiveArgs(args);
  const target = await resolveTarget(values, io);
  return asDevice(target, deviceId, async (device) => {
    const got = await poll(async () => (await device.receive()) ?? undefined, {
      waitMs,
      onWaiting: (left) =>
        io.err(`Waiting for a message for ${deviceId} (${Math.ceil(left / 1000)} s left, Ctrl+C to stop)...`),
    });
    if (!got) {
      if (json) io.out('null');
      else {
        const base =
          waitMs > 0
            ? `No message for ${deviceId} within ${waitMs / 1000} s.`
            : `No message for ${deviceId} right now. Wait for one with \`npx ferry message receive ${shellArg(deviceId)} --wait 30\`.`;
        io.out(`${base}${lockedNote(await lockedMessages(target, deviceId))}`);
      }
      return 0;
    }
    const message = { ...got, deviceId };
    if (json) {
      if (settle) await device[settle](got);
      io.out(JSON.stringify(messageJson(message, settle), null, 2));
      if (!settle) io.err(settlementNote(message, undefined));
      return 0;
    }
    io.out(formatMessage(message));
    if (settle) await device[settle](got);
    io.out(settlementNote(message, settle));
    return 0;
  });
}

/** What the queue holds that receive cannot see: messages locked by an earlier receive. */
function lockedNote(locked: LockedMessages | undefined): string {
  const why =
    'a locked message stays invisible until it is completed, rejected or abandoned, or its lock expires (c2d.lockTimeoutMs, 60 s by default), as on IoT Hub';
  if (locked === undefined) return `\nIf an earlier receive left a message locked: ${why}.`;
  if (locked.count === 0) return '';
  const n = locked.count === 1 ? '1 message is' : `${locked.count} messages are`;
  return `\n${n} locked by an earlier receive (the first until ${locked.firstUnlock}): ${why}.`;
}

async function settleCommand(how: Settlement, args: string[], io: Io): Promise<number> {
  const { values, deviceId, lockToken } = parseSettleArgs(how, args);
  await asDevice(await resolveTarget(values, io), deviceId, (device) => device[how](lockToken));
  io.out(`${PAST[how]} the message of ${deviceId} with lock token ${lockToken}.`);
  return 0;
}

async function purge(args: string[], io: Io): Promise<number> {
  const { values, deviceId } = parsePurgeArgs(args);
  const target = await resolveTarget(values, io);
  const service = serviceClient(target);
  try {
    const { totalMessagesPurged: n } = await explained(
      () => service.purgeMessageQueue(deviceId),
      target,
      SERVICE_HINTS,
      deviceId,
    );
    io.out(`Purged ${n} message${n === 1 ? '' : 's'} from the queue of ${deviceId}.`);
    return 0;
  } finally {
    await service.close();
  }
}

export async function message(action: string | undefined, args: string[], io: Io): Promise<number> {
  switch (action) {
    case 'send':
      return send(args, io);
    case 'send-many':
      return sendMany(args, io);
    case 'receive':
      return receive(args, io);
    case 'complete':
    case 'reject':
    case 'abandon':
      return settleCommand(action, args, io);
    case 'purge':
      return purge(args, io);
    case 'dead-letters':
      return deadLetters(args, io);
    case 'requeue':
      return requeue(args, io);
    case 'history':
      return history(args, io);
    case undefined:
    case '--help':
    case '-h':
      io.out(USAGE.message);
      return action === undefined ? 2 : 0;
    default: {
      const guess = suggestClosest(action, ACTIONS);
      throw usageError(
        `unknown command \`ferry message ${action}\`${guess ? ` — did you mean \`ferry message ${guess}\`?` : ''}`,
        USAGE.message,
      );
    }
  }
}
