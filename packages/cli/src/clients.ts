/** The SDK clients a command uses, made from the resolved target. */
import { formatDeviceConnectionString } from '@ferry/common';
import { DeviceClient, type DeviceTransportName, noRetry, type RetryPolicy } from '@ferry/device';
import { ServiceClient } from '@ferry/service';
import { explained } from './hub-errors.js';
import { CliError } from './io.js';
import type { HubTarget } from './target.js';

/** One-shot commands say what went wrong at once; long-running ones retry and reconnect. */
export function serviceClient(target: HubTarget, retry: RetryPolicy = noRetry): ServiceClient {
  return ServiceClient.fromConnectionString(target.connectionString, {
    ...(target.ca ? { ca: target.ca } : {}),
    ...(target.ports.https ? { httpsPort: target.ports.https } : {}),
    ...(target.ports.amqps ? { port: target.ports.amqps } : {}),
    retry,
  });
}

function portFor(target: HubTarget, transport: DeviceTransportName): number | undefined {
  if (transport === 'mqtt') return target.ports.mqtts;
  if (transport === 'amqp') return target.ports.amqps;
  return target.ports.https;
}

/** Acts as the device with its primary key, read from the registry (needs iothubowner or registryRead). */
export async function deviceClient(
  target: HubTarget,
  deviceId: string,
  transport: DeviceTransportName = 'https',
  retry: RetryPolicy = noRetry,
): Promise<DeviceClient> {
  const service = serviceClient(target);
  const device = await explained(
    () => service.registry.get(deviceId),
    target,
    {
      IotHubUnauthorizedAccess:
        'Acting as the device needs its key from the registry: use the iothubowner or registryRead connection string.',
    },
    deviceId,
  ).finally(() => service.close());
  const key = device.authentication?.symmetricKey?.primaryKey;
  if (!key) throw new CliError(`device ${deviceId} has no symmetric key, so the CLI cannot act as it`);
  const port = portFor(target, transport);
  return DeviceClient.fromConnectionString(
    formatDeviceConnectionString({ hostName: target.cs.hostName, deviceId, sharedAccessKey: key }),
    { transport, retry, ...(target.ca ? { ca: target.ca } : {}), ...(port ? { port } : {}) },
  );
}
