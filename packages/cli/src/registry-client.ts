/** A small client of the hub's registry REST API (what `ferry device` and `ferry message receive` need). */
import type { DeviceJson } from '@ferry/hub';
import { callHub, devicePath, type Hints, type HubTarget, ok, serviceToken } from './hub-http.js';

const HINTS: Hints = {
  IotHubUnauthorizedAccess:
    'The connection string lacks registry rights (iothubowner, registryRead or registryReadWrite), or its key is wrong.',
  DeviceNotFound: '`npx ferry device list` shows the devices.',
};

export class RegistryClient {
  constructor(
    private readonly target: HubTarget,
    private readonly hints: Hints = {},
  ) {}

  private async json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const reply = await callHub(this.target, {
      method,
      path,
      authorization: serviceToken(this.target.cs),
      headers: {
        accept: 'application/json',
        ...(payload ? { 'content-type': 'application/json; charset=utf-8' } : {}),
        ...headers,
      },
      ...(payload ? { body: payload } : {}),
    });
    ok(reply, { ...HINTS, ...this.hints });
    return (reply.body.length > 0 ? JSON.parse(reply.body.toString('utf8')) : undefined) as T;
  }

  create(deviceId: string, status: 'enabled' | 'disabled'): Promise<DeviceJson> {
    return this.json('PUT', devicePath(deviceId), {
      deviceId,
      status,
      authentication: { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } },
    });
  }

  get(deviceId: string): Promise<DeviceJson> {
    return this.json('GET', devicePath(deviceId));
  }

  list(top?: number): Promise<DeviceJson[]> {
    return this.json('GET', top === undefined ? '/devices/' : `/devices/?top=${top}`);
  }

  async delete(deviceId: string): Promise<void> {
    await this.json('DELETE', devicePath(deviceId), undefined, { 'if-match': '*' });
  }
}
