/** SAS tokens for in-process gateway tests, signed with the keys a test hub's registry holds. */
import { createSasToken } from '@ferry/common';
import type { Clock } from '../src/clock.js';
import type { Registry } from '../src/registry/types.js';

export interface TokenOptions {
  key?: string;
  /** seconds since the epoch; default an hour from the clock's now */
  expiry?: number;
}

export interface TestTokens {
  /** A policy token in the service SDK's form: sr = the raw host, skn = the policy. */
  serviceToken(policy?: string, opts?: TokenOptions): string;
  /** A device-key token in the device SDK's form: sr = encoded host/devices/id. */
  deviceToken(deviceId: string, opts?: TokenOptions): Promise<string>;
}

export function testTokens(registry: Pick<Registry, 'policy' | 'identity'>, host: string, clock: Clock): TestTokens {
  const expiry = () => Math.floor(clock.now() / 1000) + 3600;
  return {
    serviceToken(policy = 'iothubowner', opts = {}) {
      const p = registry.policy(policy);
      if (!p) throw new Error(`no policy ${policy}`);
      return createSasToken({
        resourceUri: host,
        key: opts.key ?? p.primaryKey,
        keyName: policy,
        expiry: opts.expiry ?? expiry(),
        encode: false,
      });
    },
    async deviceToken(deviceId, opts = {}) {
      const key = opts.key ?? (await registry.identity(deviceId))?.primaryKey;
      if (!key) throw new Error(`no key for device ${deviceId}`);
      return createSasToken({ resourceUri: `${host}/devices/${deviceId}`, key, expiry: opts.expiry ?? expiry() });
    },
  };
}
