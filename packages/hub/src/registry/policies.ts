/** The default shared access policies of a new hub (spec c2d-semantics.md 5.1) and key generation. */
import { randomBytes } from 'node:crypto';
import type { Permission } from '../auth/types.js';
import type { PolicyRecord } from '../store/types.js';
import type { SharedAccessPolicy } from './types.js';

export const DEFAULT_POLICY_RIGHTS: ReadonlyArray<{ keyName: string; rights: readonly Permission[] }> = [
  { keyName: 'iothubowner', rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] },
  { keyName: 'service', rights: ['ServiceConnect'] },
  { keyName: 'device', rights: ['DeviceConnect'] },
  { keyName: 'registryRead', rights: ['RegistryRead'] },
  { keyName: 'registryReadWrite', rights: ['RegistryRead', 'RegistryWrite'] },
];

const PERMISSIONS: readonly Permission[] = ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'];

/** 32 random bytes in base64, the size of the keys IoT Hub generates. */
export function generateKey(): string {
  return randomBytes(32).toString('base64');
}

export function newDefaultPolicies(): PolicyRecord[] {
  return DEFAULT_POLICY_RIGHTS.map((p) => ({
    keyName: p.keyName,
    primaryKey: generateKey(),
    secondaryKey: generateKey(),
    rights: [...p.rights],
  }));
}

/** Rights the store holds as strings; anything that is not a known permission is dropped. */
export function toSharedAccessPolicy(r: PolicyRecord): SharedAccessPolicy {
  const rights = PERMISSIONS.filter((p) => r.rights.includes(p));
  return Object.freeze({ keyName: r.keyName, primaryKey: r.primaryKey, secondaryKey: r.secondaryKey, rights });
}
