/**
 * `ferry message send|receive|complete|reject|abandon|purge`: what `az iot device c2d-message`
 * does, over HTTPS. send and purge are the service (ServiceConnect); receive and the settle
 * commands act as the device with its own key, read from the registry.
 */
import { suggestClosest } from '@ferry/hub';
import { DeviceC2d, type Settlement } from '../device-c2d.js';
import { CliError, type Io } from '../io.js';
import { poll } from '../poll.js';
import { ServiceC2d } from '../service-c2d.js';
import { resolveTarget } from '../target.js';
import { USAGE } from '../usage.js';
import { shellArg } from '../wire-text.js';
import { parsePurgeArgs, parseReceiveArgs, parseSendArgs, parseSettleArgs } from './message-args.js';
import { formatMessage, messageJson, settlementNote } from './message-print.js';

const ACTIONS = ['send', 'receive', 'complete', 'reject', 'abandon', 'purge'];
const PAST: Record<Settlement, string> = { complete: 'Completed', reject: 'Rejected', abandon: 'Abandoned' };

async function send(args: string[], io: Io): Promise<number> {
  const { values, deviceId, request } = await parseSendArgs(args, io);
  const messageId = await new ServiceC2d(await resolveTarget(values, io)).send(deviceId, request);
  io.out(messageId);
  return 0;
}

async function receive(args: string[], io: Io): Promise<number> {
  const { values, deviceId, settle, waitMs, json } = parseReceiveArgs(args);
  const device = await DeviceC2d.open(await resolveTarget(values, io), deviceId);
  const message = await poll(() => device.receive(), {
    waitMs,
    onWaiting: (left) =>
      io.err(`Waiting for a message for ${deviceId} (${Math.ceil(left / 1000)} s left, Ctrl+C to stop)...`),
  });
  if (!message) {
    if (json) io.out('null');
    else {
      io.out(
        waitMs > 0
          ? `No message for ${deviceId} within ${waitMs / 1000} s.`
          : `No message for ${deviceId} right now. Wait for one with \`npx ferry message receive ${shellArg(deviceId)} --wait 30\`.`,
      );
    }
    return 0;
  }
  if (json) {
    if (settle) await device.settle(message.lockToken, settle);
    io.out(JSON.stringify(messageJson(message, settle), null, 2));
    if (!settle) io.err(settlementNote(message, undefined));
    return 0;
  }
  io.out(formatMessage(message));
  if (settle) await device.settle(message.lockToken, settle);
  io.out(settlementNote(message, settle));
  return 0;
}

async function settleCommand(how: Settlement, args: string[], io: Io): Promise<number> {
  const { values, deviceId, lockToken } = parseSettleArgs(how, args);
  const device = await DeviceC2d.open(await resolveTarget(values, io), deviceId);
  await device.settle(lockToken, how);
  io.out(`${PAST[how]} the message of ${deviceId} with lock token ${lockToken}.`);
  return 0;
}

async function purge(args: string[], io: Io): Promise<number> {
  const { values, deviceId } = parsePurgeArgs(args);
  const n = await new ServiceC2d(await resolveTarget(values, io)).purge(deviceId);
  io.out(`Purged ${n} message${n === 1 ? '' : 's'} from the queue of ${deviceId}.`);
  return 0;
}

export async function message(action: string | undefined, args: string[], io: Io): Promise<number> {
  switch (action) {
    case 'send':
      return send(args, io);
    case 'receive':
      return receive(args, io);
    case 'complete':
    case 'reject':
    case 'abandon':
      return settleCommand(action, args, io);
    case 'purge':
      return purge(args, io);
    case undefined:
    case '--help':
    case '-h':
      io.out(USAGE.message);
      return action === undefined ? 2 : 0;
    default: {
      const guess = suggestClosest(action, ACTIONS);
      throw new CliError(
        `unknown command \`ferry message ${action}\`${guess ? ` — did you mean \`ferry message ${guess}\`?` : ''}\n\n${USAGE.message}`,
        2,
      );
    }
  }
}
