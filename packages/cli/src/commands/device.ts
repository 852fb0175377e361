/** `ferry device create|show|list|delete` through the registry REST API. */
import { formatDeviceConnectionString } from '@ferry/common';
import { parse, str } from '../args.js';
import { CliError, type Io } from '../io.js';
import { RegistryClient } from '../registry-client.js';
import { table } from '../table.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { deviceCert } from './device-cert.js';
import { deviceImport } from './device-import.js';

const COMMON = TARGET_OPTIONS;

function needId(positionals: string[], action: string): string {
  const id = positionals[0];
  if (!id) throw new CliError(`ferry device ${action} needs a device id\n\n${USAGE.device}`, 2);
  return id;
}

export async function device(action: string | undefined, args: string[], io: Io): Promise<number> {
  switch (action) {
    case 'create': {
      const { values, positionals } = parse(args, { ...COMMON, disabled: { type: 'boolean' } }, USAGE.device, 1);
      const id = needId(positionals, action);
      const target = await resolveTarget(values, io);
      const created = await new RegistryClient(target).create(id, values.disabled ? 'disabled' : 'enabled');
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
      const found = await new RegistryClient(await resolveTarget(values, io)).get(id);
      io.out(JSON.stringify(found, null, 2));
      return 0;
    }
    case 'list': {
      const { values } = parse(args, { ...COMMON, top: { type: 'string' } }, USAGE.device, 0);
      const top = str(values.top);
      if (top !== undefined && !/^\d+$/.test(top)) throw new CliError(`--top must be a whole number, got "${top}"`, 2);
      const devices = await new RegistryClient(await resolveTarget(values, io)).list(
        top === undefined ? undefined : Number(top),
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
            d.lastActivityTime,
          ]),
        ),
      );
      return 0;
    }
    case 'delete': {
      const { values, positionals } = parse(args, COMMON, USAGE.device, 1);
      const id = needId(positionals, action);
      await new RegistryClient(await resolveTarget(values, io)).delete(id);
      io.out(`Deleted device ${id}.`);
      return 0;
    }
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
      throw new CliError(`unknown command \`ferry device ${action}\`\n\n${USAGE.device}`, 2);
  }
}
