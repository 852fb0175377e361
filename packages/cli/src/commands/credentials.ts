/**
 * What `az iot hub device-identity connection-string show` and `az iot hub generate-sas-token`
 * do: `ferry device connection-string <id> [--key primary|secondary]` and `ferry sas-token
 * --device <id> | --policy <name> [--duration SECONDS]`. Device keys come from the registry;
 * a policy's key from the connection string in use when it is that policy's, else from the
 * hub's `GET /hubInfo` (Ferry extension), which lists the policies the caller may sign for.
 */
import { createSasToken, formatDeviceConnectionString, parseHubConnectionString } from '@ferry/common';
import { httpsCall, ok } from '@ferry/common/client';
import { parse, str, usageError } from '../args.js';
import { serviceClient } from '../clients.js';
import { explained, type Hints } from '../hub-errors.js';
import { CliError, type Io } from '../io.js';
import { type HubTarget, resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';

const REGISTRY_READ: Hints = {
  IotHubUnauthorizedAccess:
    "A device's keys come from the registry: use a connection string with RegistryRead (iothubowner, registryRead or registryReadWrite).",
};

async function deviceKey(target: HubTarget, deviceId: string, which: 'primary' | 'secondary'): Promise<string> {
  const service = serviceClient(target);
  try {
    const device = await explained(() => service.registry.get(deviceId), target, REGISTRY_READ, deviceId);
    const key = device.authentication?.symmetricKey?.[`${which}Key`];
    if (!key) {
      throw new CliError(
        `device ${deviceId} has no symmetric key (it authenticates with an X.509 certificate), so it has no connection string with a key`,
      );
    }
    return key;
  } finally {
    await service.close();
  }
}

/** `ferry device connection-string <id> [--key primary|secondary]` */
export async function deviceConnectionString(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...TARGET_OPTIONS, key: { type: 'string' } }, USAGE.device, 1);
  const id = positionals[0];
  if (!id) throw usageError('device connection-string needs a device id', USAGE.device);
  const which = str(values.key) ?? 'primary';
  if (which !== 'primary' && which !== 'secondary')
    throw usageError(`--key is primary or secondary; got "${which}"`, USAGE.device);
  const target = await resolveTarget(values, io);
  const key = await deviceKey(target, id, which);
  io.out(formatDeviceConnectionString({ hostName: target.cs.hostName, deviceId: id, sharedAccessKey: key }));
  return 0;
}

const SAS_OPTIONS = {
  ...TARGET_OPTIONS,
  device: { type: 'string' },
  policy: { type: 'string' },
  duration: { type: 'string' },
  key: { type: 'string' },
} as const;

interface HubInfo {
  policies: { keyName: string; connectionString: string }[];
}

async function policyKey(target: HubTarget, name: string): Promise<string> {
  if (target.cs.sharedAccessKeyName === name) return target.cs.sharedAccessKey;
  const { cs } = target;
  const authorization = createSasToken({
    resourceUri: cs.hostName,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: Math.floor(Date.now() / 1000) + 300,
    encode: false,
  });
  const reply = await explained(
    async () =>
      ok(
        await httpsCall(
          { host: cs.hostName, port: target.ports.https ?? 443, ca: target.ca },
          { method: 'GET', path: '/hubInfo', authorization },
        ),
      ),
    target,
  );
  const info = JSON.parse(reply.body.toString('utf8')) as HubInfo;
  const policy = info.policies.find((p) => p.keyName === name);
  if (!policy) {
    const known = info.policies.map((p) => p.keyName).join(', ');
    throw new CliError(
      `no shared access policy named ${name} that ${cs.sharedAccessKeyName} may sign for (it may sign for ${known || 'none'}); use the iothubowner connection string, or that policy's own`,
    );
  }
  return parseHubConnectionString(policy.connectionString).sharedAccessKey;
}

/** `ferry sas-token --device <id> | --policy <name> [--duration SECONDS] [--key primary|secondary]` */
export async function sasToken(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, SAS_OPTIONS, USAGE['sas-token'], 0);
  const deviceId = str(values.device);
  const policy = str(values.policy);
  if ((deviceId === undefined) === (policy === undefined))
    throw usageError('give --device <id> or --policy <name> (one of them)', USAGE['sas-token']);
  const duration = str(values.duration) ?? '3600';
  if (!/^\d+$/.test(duration) || Number(duration) < 1)
    throw usageError(`--duration takes whole seconds above 0; got "${duration}"`, USAGE['sas-token']);
  const which = str(values.key) ?? 'primary';
  if (which !== 'primary' && which !== 'secondary')
    throw usageError(`--key is primary or secondary; got "${which}"`, USAGE['sas-token']);
  if (policy !== undefined && values.key !== undefined)
    throw usageError('--key picks a device key; a policy token is signed with the policy key', USAGE['sas-token']);
  const target = await resolveTarget(values, io);
  const expiry = Math.floor(Date.now() / 1000) + Number(duration);
  const host = target.cs.hostName;
  const token =
    deviceId !== undefined
      ? createSasToken({
          resourceUri: `${host}/devices/${deviceId}`,
          key: await deviceKey(target, deviceId, which),
          expiry,
        })
      : createSasToken({ resourceUri: host, key: await policyKey(target, policy!), keyName: policy, expiry });
  io.out(token);
  return 0;
}
