/**
 * X.509 end to end: the official device client with an `x509=true` connection string and
 * setOptions({ cert, key }) on any of the five transports, and the hub's CA certificates through
 * its REST API (upload, verification code, proof of possession).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createSasToken, parseHubConnectionString } from '@ferry/common';
import { issueCertificate, type KeyAndCert } from '@ferry/hub';
import deviceSdk, { type Client, type Message } from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import deviceHttp from 'azure-iot-device-http';
import deviceMqtt from 'azure-iot-device-mqtt';
import { type HubProcess, hubRequest } from '../harness.js';
import { Inbox } from './inbox.js';
import { API } from './send.js';
import { withTimeout } from './wait.js';

export type TransportName = 'Mqtt' | 'MqttWs' | 'Amqp' | 'AmqpWs' | 'Http';
export const TRANSPORTS: readonly TransportName[] = ['Mqtt', 'MqttWs', 'Amqp', 'AmqpWs', 'Http'];

const TRANSPORT = {
  Mqtt: deviceMqtt.Mqtt,
  MqttWs: deviceMqtt.MqttWs,
  Amqp: deviceAmqp.Amqp,
  AmqpWs: deviceAmqp.AmqpWs,
  Http: deviceHttp.Http,
} as const;

export function x509ConnectionString(hub: HubProcess, deviceId: string): string {
  return `HostName=${hub.address};DeviceId=${deviceId};x509=true`;
}

export interface X509Device {
  readonly client: Client;
  /** Errors the client emitted ('error' event). */
  readonly errors: Error[];
  next(timeoutMs?: number): Promise<Message>;
  close(): Promise<void>;
}

/**
 * Opens the official client for `deviceId` with `cert` and starts receiving (completing every
 * message). Rejects when open() or the C2D attach is refused.
 */
export async function openX509Device(
  hub: HubProcess,
  deviceId: string,
  cert: KeyAndCert,
  transport: TransportName,
): Promise<X509Device> {
  const client = deviceSdk.Client.fromConnectionString(x509ConnectionString(hub, deviceId), TRANSPORT[transport]);
  const errors: Error[] = [];
  client.on('error', (err: Error) => errors.push(err));
  const options = {
    ca: readFileSync(hub.caFile, 'utf8'),
    cert: cert.certPem,
    key: cert.keyPem,
    // The HTTP transport only calls back from setOptions with a receivePolicy (official-sdk-wire.md G.10).
    ...(transport === 'Http' ? { http: { receivePolicy: { interval: 0.25 } } } : {}),
  };
  await withTimeout(client.setOptions(options), 10_000, 'device setOptions');
  await withTimeout(client.open(), 30_000, `${transport} device open`);
  const inbox = new Inbox<Message>();
  client.on('message', (m: Message) => {
    void client.complete(m).catch((err: Error) => errors.push(err));
    inbox.push(m);
  });
  return {
    client,
    errors,
    next: (timeoutMs = 20_000) => inbox.next(timeoutMs, `a C2D message for ${deviceId} over ${transport}`),
    async close() {
      client.removeAllListeners('message');
      await withTimeout(client.close(), 10_000, 'device close').catch(() => undefined);
    },
  };
}

/**
 * The error the hub refuses `cert` for `deviceId` with, as the official client reports it:
 * MQTT fails open(), AMQP the C2D link ('disconnect'; open() only opens the connection), HTTP
 * fails sendEvent. Resolves undefined when the hub accepted (over HTTP: the telemetry was taken).
 */
export async function refusal(
  hub: HubProcess,
  deviceId: string,
  cert: KeyAndCert,
  transport: TransportName,
): Promise<Error | undefined> {
  const client = deviceSdk.Client.fromConnectionString(x509ConnectionString(hub, deviceId), TRANSPORT[transport]);
  const emitted = new Inbox<Error>();
  client.on('error', emitted.push);
  const options = {
    ca: readFileSync(hub.caFile, 'utf8'),
    cert: cert.certPem,
    key: cert.keyPem,
    ...(transport === 'Http' ? { http: { receivePolicy: { interval: 1 } } } : {}),
  };
  try {
    await withTimeout(client.setOptions(options), 10_000, 'device setOptions');
    if (transport === 'Http') {
      // Polling errors never reach the app over HTTP (G.14), but sendEvent's do, translated, and
      // a refused certificate gets 401 UnauthorizedError, an accepted one a 204 for its telemetry.
      await withTimeout(client.sendEvent(new deviceSdk.Message('x')), 10_000, 'HTTP sendEvent');
      return undefined;
    }
    await withTimeout(client.open(), 30_000, `${transport} device open`);
    if (transport === 'Amqp' || transport === 'AmqpWs') {
      // The refused C2D link ends the connection: the client emits 'disconnect' with the reason.
      // results.Disconnected(err) keeps the error as its transportObj.
      client.on('disconnect', (d: { transportObj?: unknown }) =>
        emitted.push(d.transportObj instanceof Error ? d.transportObj : new Error('disconnected without an error')),
      );
      client.on('message', () => {});
      return await emitted.next(30_000, 'the AMQP C2D link refusal');
    }
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    client.removeAllListeners('message');
    await withTimeout(client.close(), 10_000, 'device close').catch(() => undefined);
  }
}

function ownerSas(hub: HubProcess): string {
  const owner = parseHubConnectionString(hub.ownerConnectionString);
  return createSasToken({
    resourceUri: owner.hostName,
    encode: false,
    key: owner.sharedAccessKey,
    keyName: owner.sharedAccessKeyName,
    expiry: Math.ceil(Date.now() / 1000) + 3600,
  });
}

export interface CertificateJson {
  name: string;
  etag: string;
  properties: { subject: string; thumbprint: string; isVerified: boolean; verificationCode?: string; expiry: string };
}

/** One call of the certificates API with the owner's token; asserts the status, returns the JSON. */
export async function certificatesCall(
  hub: HubProcess,
  method: string,
  path: string,
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Promise<CertificateJson> {
  const res = await hubRequest(hub, method, `/certificates${path}?${API}`, {
    headers: { authorization: ownerSas(hub), 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = res.body.toString('utf8');
  assert.equal(res.status, status, `${method} /certificates${path}: ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as CertificateJson;
}

/** Upload a CA, then prove possession of its key through REST: the CA ends verified. */
export async function uploadAndVerifyCa(hub: HubProcess, name: string, ca: KeyAndCert): Promise<CertificateJson> {
  const uploaded = await certificatesCall(hub, 'PUT', `/${name}`, { properties: { certificate: ca.certPem } });
  assert.equal(uploaded.properties.isVerified, false);
  const withCode = await certificatesCall(hub, 'POST', `/${name}/generateVerificationCode`, undefined);
  const code = withCode.properties.verificationCode;
  assert.ok(code, 'a verification code');
  const proof = issueCertificate(ca, code);
  const verified = await certificatesCall(hub, 'POST', `/${name}/verify`, { certificate: proof.certPem });
  assert.equal(verified.properties.isVerified, true);
  return verified;
}
