/**
 * Issue 13: IoT Hub authenticates an HTTPS request before it routes it. The official HTTP device
 * client with a wrong key or an expired SAS token gets UnauthorizedError, from device-to-cloud
 * `sendEvent` and from receive, never DeviceNotFoundError.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createSasToken, parseDeviceConnectionString } from '@ferry/common';
import deviceSdk from 'azure-iot-device';
import deviceHttp from 'azure-iot-device-http';
import { type HubProcess, startHub } from './harness.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 30_000 };
// CommonJS: take the named exports off the default export.
const { Client, Message, SharedAccessKeyAuthenticationProvider, SharedAccessSignatureAuthenticationProvider } =
  deviceSdk;
// At run time `Http` is the transport class itself (its index.d.ts says a namespace).
const HttpTransport = deviceHttp.Http as unknown as typeof deviceHttp.Http.Http;
// The translation the official HTTP transport applies to failed requests (azure-iot-device-http/dist/http_errors.js).
const { translateError } = (await import('azure-iot-device-http/dist/http_errors.js')) as {
  translateError(message: string, body: unknown, response: unknown): Error;
};

let hub: HubProcess;
let good: string;
let wrongKey: string;
let expiredSas: string;

before(async () => {
  hub = await startHub();
  good = await hub.createDevice('unauth-http');
  const cs = parseDeviceConnectionString(good);
  wrongKey = good.replace(cs.sharedAccessKey!, randomBytes(32).toString('base64'));
  const token = createSasToken({
    resourceUri: `${cs.hostName}/devices/${cs.deviceId}`,
    key: cs.sharedAccessKey!,
    expiry: Math.floor(Date.now() / 1000) - 3600,
  });
  expiredSas = `HostName=${cs.hostName};DeviceId=${cs.deviceId};SharedAccessSignature=${token}`;
});

after(async () => {
  await hub?.stop();
});

function authProvider(cs: string) {
  return cs.includes('SharedAccessSignature=')
    ? SharedAccessSignatureAuthenticationProvider.fromSharedAccessSignature(cs.split('SharedAccessSignature=')[1]!)
    : SharedAccessKeyAuthenticationProvider.fromConnectionString(cs);
}

async function sendEventError(cs: string): Promise<Error> {
  const client = Client.fromConnectionString(cs, deviceHttp.Http);
  // setOptions resolves on HTTP only when http.receivePolicy is present (the SDK's wire notes).
  await withTimeout(
    client.setOptions({ ca: readFileSync(hub.caFile, 'utf8'), http: { receivePolicy: { interval: 1 } } }),
    5000,
    'setOptions',
  );
  try {
    await withTimeout(client.sendEvent(new Message('telemetry')), 10_000, 'sendEvent');
  } catch (err) {
    return err as Error;
  } finally {
    await client.close().catch(() => undefined);
  }
  assert.fail('sendEvent succeeded');
}

/** One receive poll of the official HTTP transport; its failure as the transport's own translation names it. */
async function receiveError(cs: string): Promise<Error> {
  const transport = new HttpTransport(authProvider(cs));
  transport.setOptions({ ca: readFileSync(hub.caFile, 'utf8') }, () => {});
  const failed = new Promise<Error>((resolve, reject) => {
    transport.on('error', (err: Error & { response?: unknown; responseBody?: unknown }) => {
      resolve(translateError(err.message, err.responseBody, err.response));
    });
    transport.on('message', () => reject(new Error('a message was received')));
  });
  transport.receive();
  try {
    return await withTimeout(failed, 10_000, 'receive error');
  } finally {
    // Stops the key provider's renewal timer, which would keep the test process alive.
    await new Promise<void>((resolve) => transport.disconnect(() => resolve()));
  }
}

describe('the official HTTP device client', () => {
  for (const [what, cs] of [
    ['a wrong key', () => wrongKey],
    ['an expired SAS token', () => expiredSas],
  ] as const) {
    test(`with ${what}: sendEvent and receive both give UnauthorizedError`, T, async () => {
      assert.equal((await sendEventError(cs())).name, 'UnauthorizedError');
      assert.equal((await receiveError(cs())).name, 'UnauthorizedError');
    });
  }

  test('with the right key, sendEvent is accepted (device-to-cloud telemetry, issue 24)', T, async () => {
    const client = Client.fromConnectionString(good, deviceHttp.Http);
    await withTimeout(
      client.setOptions({ ca: readFileSync(hub.caFile, 'utf8'), http: { receivePolicy: { interval: 1 } } }),
      5000,
      'setOptions',
    );
    try {
      const result = await withTimeout(client.sendEvent(new Message('telemetry')), 10_000, 'sendEvent');
      assert.equal(result.constructor.name, 'MessageEnqueued');
    } finally {
      await client.close().catch(() => undefined);
    }
  });
});
