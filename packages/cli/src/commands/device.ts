/** `ferry device create|show|list|delete` through the registry REST API. */
import { formatDeviceConnectionString } from '@ferry/common';
import type { RegistryClient } from '@ferry/service';
import { parse, str, usageError } from '../args.js';
import { serviceClient } from '../clients.js';
import { explained, type Hints } from '../hub-errors.js';
import { CliError, type Io } from '../io.js';
import { table } from '../table.js';
import { type HubTarget, resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { deviceConnectionString } from './credentials.js';
import { deviceCert } from './device-cert.js';
import { deviceImport } from './device-import.js';
import { deviceReceive } from './device-receive.js';
import { deviceSendEvent } from './device-send-event.js';

const COMMON = TARGET_OPTIONS;
/** IoT Hub's lastActivityTime for "none". */
const NEVER = '0001-01-01T00:00:00Z';

function needId(positionals: string[], action: string): string {
  const id = positionals[0];
  if (!id) throw usageError(`device ${action} needs a device id`, USAGE.device);
  return id;
}

/** Reading the registry and changing it need different policies: name the right ones. */
function registryHints(writes: boolean): Hints {
  return {
    IotHubUnauthorizedAccess: writes
      ? 'Creating and deleting devices needs RegistryWrite: use the iothubowner or registryReadWrite connection string (registryRead can only read), or check its key.'
      : 'The connection string lacks registry rights (iothubowner, registryRead or registryReadWrite), or its key is wrong.',
    DeviceNotFound: '`npx ferry device list` shows the devices.',
  };
}

/** Runs a registry call, its failures explained. */
async function withRegistry<T>(
  target: HubTarget,
  op: (r: RegistryClient) => Promise<T>,
  deviceId?: string,
  writes = false,
): Promise<T> {
  const service = serviceClient(target);
  try {
    return await explained(() => op(service.registry), target, registryHints(writes), deviceId);
  } finally {
    await service.close();
  }
}

export async function device(action: string | undefined, args: string[], io: Io): Promise<number> {
  switch (action) {
    case 'create': {
      const { values, positionals } = parse(args, { ...COMMON, disabled: { type: 'boolean' } }, USAGE.device, 1);
      const id = needId(positionals, action);
      const target = await resolveTarget(values, io);
      const created = await withRegistry(
        target,
        (r) => r.create({ deviceId: id, status: values.disabled ? 'disabled' : 'enabled' }),
        undefined,
        true,
      );
      const key = created.authentication.symmetricKey.primaryKey;
      if (!key) throw new CliError(`device ${id} was created without a symmetric key`);
      io.out(
        formatDeviceConnectionString({
          hostName: target.cs.hostName,
          deviceId: created.deviceId,
          sharedAccessKey: key,
        }),
      );
      return 0;
    }
    case 'show': {
      const { values, positionals } = parse(args, COMMON, USAGE.device, 1);
      const id = needId(positionals, action);
      const found = await withRegistry(await resolveTarget(values, io), (r) => r.get(id), id);
      io.out(JSON.stringify(found, null, 2));
      return 0;
    }
    case 'list': {
      const { values } = parse(args, { ...COMMON, top: { type: 'string' } }, USAGE.device, 0);
      const top = str(values.top);
      if (top !== undefined && !/^\d+$/.test(top)) throw new CliError(`--top must be a whole number, got "${top}"`, 2);
      const devices = await withRegistry(await resolveTarget(values, io), (r) =>
        r.list(top === undefined ? {} : { top: Number(top) }),
      );
      if (devices.length === 0) {
        io.out('No devices yet. Create one with `npx ferry device create <id>`.');
        return 0;
      }
      io.out(
        table(
          ['DEVICE ID', 'STATUS', 'CONNECTION', 'C2D QUEUED', 'LAST ACTIVITY'],
          devices.map((d) => [
            d.deviceId,
            d.status,
            d.connectionState,
            String(d.cloudToDeviceMessageCount),
            d.lastActivityTime === NEVER ? 'none yet' : d.lastActivityTime,
          ]),
        ),
      );
      if (devices.some((d) => d.lastActivityTime === NEVER)) {
        io.out(
          `\nLAST ACTIVITY none yet: the device has not connected since it was created (the REST API then says ${NEVER}, IoT Hub's value for none). The hub records activity at most every 30 s per device, so it may lag by that much.`,
        );
      }
      return 0;
    }
    case 'delete': {
      const { values, positionals } = parse(args, COMMON, USAGE.device, 1);
      const id = needId(positionals, action);
      await withRegistry(await resolveTarget(values, io), (r) => r.delete(id), id, true);
      io.out(`Deleted device ${id}.`);
      return 0;
    }
    case 'connection-string':
      return deviceConnectionString(args, io);
    case 'receive':
      return deviceReceive(args, io);
    case 'send-event':
      return deviceSendEvent(args, io);
    case 'cert':
      return deviceCert(args, io);
    case 'import':
      return deviceImport(args, io);
    case undefined:
    case '--help':
    case '-h':
      io.out(USAGE.device);
      return action === undefined ? 2 : 0;
    default:
      throw usageError(`unknown command \`ferry device ${action}\``, USAGE.device);
  }
}
