/**
 * SAS token -> Principal, and Principal x Operation -> allowed or not
 * (c2d-semantics.md 5.1-5.2; official-sdk-wire.md 1.2).
 */
import {
  FerryError,
  isSasExpired,
  type ParsedSasToken,
  parseSasToken,
  SAS_CLOCK_SKEW_MS,
  scopeCovers,
  splitResource,
  verifySasSignature,
} from '@ferry/common';
import type { Clock } from '../clock.js';
import type { Registry } from '../registry/types.js';
import type { Authenticator, Operation, Permission, Principal } from './types.js';

export interface SasAuthenticatorOptions {
  registry: Pick<Registry, 'identity' | 'policy'>;
  /** The host names and addresses this hub answers to, with or without a port. */
  hosts: readonly string[];
  clock: Clock;
}

/** Host without port or IPv6 brackets, lower-cased: the sr host is compared in this form. */
function normalizeHost(host: string): string {
  const { host: h } = splitResource(host.trim());
  return (h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h).toLowerCase();
}

function unauthorized(message: string): FerryError {
  return new FerryError('IotHubUnauthorizedAccess', message);
}

/** The path each hub-level permission must be able to reach (see `authorize`). */
const PERMISSION_PATH: Record<'RegistryRead' | 'RegistryWrite' | 'ServiceConnect', string> = {
  RegistryRead: '/devices',
  RegistryWrite: '/devices',
  ServiceConnect: '/messages',
};

/**
 * Authenticates SAS tokens against the registry's devices and shared access policies.
 *
 * Authorization rules, kept deliberately simple:
 * - RegistryRead, RegistryWrite: a policy granting it (RegistryWrite implies RegistryRead, as in
 *   Azure's AccessRights) whose token scope covers `/devices` (so `sr` = host or host/devices).
 * - ServiceConnect: a policy granting it whose scope covers `/messages` (sr = host or
 *   host/messages); the service SDK always signs the bare host.
 * - DeviceConnect {deviceId}: that very device's own key, or a policy granting DeviceConnect whose
 *   scope covers `/devices/{deviceId}` (host, host/devices, or host/devices/{deviceId}).
 * - Nothing is allowed once the token has expired (`expiresAt`, which includes the 5-minute skew).
 * Scopes match by path segment, case-insensitively, as Microsoft's validator does.
 */
export class SasAuthenticator implements Authenticator {
  private readonly registry: Pick<Registry, 'identity' | 'policy'>;
  private readonly hosts: ReadonlySet<string>;
  private readonly clock: Clock;

  constructor(opts: SasAuthenticatorOptions) {
    if (opts.hosts.length === 0) throw new FerryError('ArgumentInvalid', 'SasAuthenticator needs at least one host');
    this.registry = opts.registry;
    this.hosts = new Set(opts.hosts.map(normalizeHost));
    this.clock = opts.clock;
  }

  async authenticate(token: string): Promise<Principal> {
    const sas = parseSasToken(token);
    // Event Hubs clients sign `sb://host/{hub}/...`: the scheme is not part of the host.
    const { host, path } = splitResource(sas.sr.replace(/^(sb|amqps?):\/\//i, ''));
    if (!this.hosts.has(normalizeHost(host))) {
      throw unauthorized(`The SAS token is for host "${host}", which is not this hub (${[...this.hosts].join(', ')})`);
    }
    // Checked before any lookup, as Microsoft's parser does: an expired token costs nothing.
    if (isSasExpired(sas, this.clock.now())) {
      throw unauthorized(`The SAS token expired at ${new Date(sas.se * 1000).toISOString()}`);
    }
    // The gateway disconnects at expiresAt; include the skew so that agrees with this check.
    const expiresAt = sas.se * 1000 + SAS_CLOCK_SKEW_MS;
    return sas.skn === undefined
      ? this.deviceKeyPrincipal(sas, path, expiresAt)
      : this.policyPrincipal(sas, path, expiresAt);
  }

  private policyPrincipal(sas: ParsedSasToken, path: string, expiresAt: number): Principal {
    const policyName = sas.skn!;
    const policy = this.registry.policy(policyName);
    if (!policy) throw unauthorized(`No shared access policy is named "${policyName}"`);
    if (!verifySasSignature(sas, [policy.primaryKey, policy.secondaryKey])) {
      throw unauthorized(`The SAS signature does not match the keys of policy "${policyName}"`);
    }
    return { kind: 'policy', policyName, permissions: new Set(policy.rights), scope: path, expiresAt };
  }

  private async deviceKeyPrincipal(sas: ParsedSasToken, path: string, expiresAt: number): Promise<Principal> {
    const m = /^\/devices\/([^/]+)$/i.exec(path);
    if (!m) {
      throw unauthorized(
        `A token without skn is signed with a device key, so its sr must be {host}/devices/{deviceId}; got "${sas.sr}"`,
      );
    }
    let deviceId = m[1]!;
    let identity = await this.registry.identity(deviceId);
    // The Node SDK encodes host/devices/{id} once; the C# SDK encodes the id first, then the
    // whole resource again. So when the once-decoded id is unknown, try decoding it once more.
    if (!identity && deviceId.includes('%')) {
      let twice: string | undefined;
      try {
        twice = decodeURIComponent(deviceId);
      } catch {
        twice = undefined;
      }
      if (twice !== undefined) {
        identity = await this.registry.identity(twice);
        if (identity) deviceId = twice;
      }
    }
    if (!identity) throw unauthorized(`Device "${deviceId}" is not registered`);
    if (!verifySasSignature(sas, [identity.primaryKey, identity.secondaryKey])) {
      throw unauthorized(`The SAS signature does not match the keys of device "${deviceId}"`);
    }
    // Only after the signature: an anonymous caller learns nothing about a device's status.
    if (identity.status === 'disabled') throw new FerryError('DeviceDisabled', `Device "${deviceId}" is disabled`);
    return { kind: 'device', deviceId, expiresAt };
  }

  authorize(principal: Principal, op: Operation): void {
    const why = this.refusal(principal, op);
    if (why !== undefined) throw unauthorized(why);
  }

  can(principal: Principal, op: Operation): boolean {
    return this.refusal(principal, op) === undefined;
  }

  /** Why `principal` may not do `op`, or undefined when it may. */
  private refusal(principal: Principal, op: Operation): string | undefined {
    if (principal.expiresAt < this.clock.now()) return 'The SAS token has expired';
    if (principal.kind === 'device') {
      if (op.permission === 'DeviceConnect' && op.deviceId === principal.deviceId) return undefined;
      return op.permission === 'DeviceConnect'
        ? `Device "${principal.deviceId}" may not act as device "${op.deviceId}"`
        : `A device credential does not grant ${op.permission}`;
    }
    const has = (p: Permission) =>
      principal.permissions.has(p) || (p === 'RegistryRead' && principal.permissions.has('RegistryWrite'));
    if (!has(op.permission)) return `Policy "${principal.policyName}" does not grant ${op.permission}`;
    const target =
      op.permission === 'DeviceConnect' ? `/devices/${op.deviceId}` : (op.path ?? PERMISSION_PATH[op.permission]);
    if (!scopeCovers(principal.scope, target)) {
      return `The token's scope "${principal.scope}" does not cover ${target} (${op.permission})`;
    }
    return undefined;
  }
}
