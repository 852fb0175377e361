/**
 * What one connection is authorized for: the principals of its valid tokens (CBS put-token,
 * keyed by audience so a renewal replaces the old token; or the SASL PLAIN password). One timer,
 * at the earliest expiry, drops expired principals and tells the connection to re-check its links.
 * A registry change drops the device's principals that it invalidates (revokeDevice).
 */
import type { X509Certificate } from 'node:crypto';
import { FerryError } from '@ferry/common';
import type { Authenticator, Operation, Principal } from '../../auth/types.js';
import type { Clock, TimerHandle } from '../../clock.js';
import type { DeviceIdentity } from '../../registry/types.js';
import { type CutOff, cutOffByChange } from '../device-change.js';

interface Claim {
  principal: Principal;
  /** The token it was proven with (undefined when put without `authenticator`). */
  token: string | undefined;
  /** The client certificate it was proven with (X.509 devices). */
  certificate?: X509Certificate;
}

/** A token being authenticated, or authenticated and not yet put. */
interface Pending {
  token: string;
  principal: Principal | undefined;
  /** Registry changes seen while the authenticator ran (it may have read the identity before them). */
  changes: Map<string, DeviceIdentity | undefined>;
  /** Set when a change after authentication invalidated the principal: put() refuses it. */
  cut: CutOff | undefined;
}

export class Claims {
  /**
   * Authenticates through the hub's authenticator and remembers which token proved each principal,
   * so a later key change can be checked against the token. Tokens put on this connection must be
   * authenticated here.
   */
  readonly authenticator: Authenticator;
  private readonly byAudience = new Map<string, Claim>();
  /** Few at a time (put-tokens in flight on one connection). */
  private readonly pending = new Set<Pending>();
  private timer: TimerHandle | undefined;
  private disposed = false;

  constructor(
    private readonly auth: Authenticator,
    private readonly clock: Clock,
    /** Called after principals expired; the connection closes links no longer covered. */
    private readonly onExpired: () => void,
  ) {
    this.authenticator = {
      authenticate: (token) => this.authenticate(token),
      authorize: (principal, op) => auth.authorize(principal, op),
      can: (principal, op) => auth.can(principal, op),
    };
  }

  /** False when a registry change revoked the principal between its authentication and now. */
  put(audience: string, principal: Principal, certificate?: X509Certificate): boolean {
    const p = [...this.pending].find((x) => x.principal === principal);
    if (p) this.pending.delete(p);
    if (this.disposed || p?.cut) return false;
    this.byAudience.set(audience.toLowerCase(), { principal, token: p?.token, certificate });
    this.schedule();
    return true;
  }

  /** True when the device's claim on this connection is its TLS client certificate (X.509). */
  byCertificate(deviceId: string): boolean {
    for (const { principal, certificate } of this.byAudience.values()) {
      if (certificate && principal.kind === 'device' && principal.deviceId === deviceId) return true;
    }
    return false;
  }

  /** The name of a policy on this connection that may do `op` (told in the message history), if any. */
  policyThatCan(op: Operation): string | undefined {
    for (const { principal } of this.byAudience.values()) {
      if (principal.kind === 'policy' && this.auth.can(principal, op)) return principal.policyName;
    }
    return undefined;
  }

  /** True when some unexpired principal may do `op`. */
  can(op: Operation): boolean {
    for (const { principal } of this.byAudience.values()) {
      if (this.auth.can(principal, op)) return true;
    }
    return false;
  }

  /** True when the connection holds some unexpired principal, whatever it may do. */
  any(): boolean {
    const now = this.clock.now();
    for (const { principal } of this.byAudience.values()) if (principal.expiresAt >= now) return true;
    return false;
  }

  /**
   * The device was changed in the registry: drop its device-token principals that may no longer
   * be used (all of them when it was deleted or disabled; on a key change, those whose token no
   * current key verifies). Policy principals stay. Returns why, when something was dropped.
   */
  revokeDevice(deviceId: string, identity: DeviceIdentity | undefined): CutOff | undefined {
    const ofDevice = (p: Principal) => p.kind === 'device' && p.deviceId === deviceId;
    let dropped: CutOff | undefined;
    for (const [audience, { principal, token, certificate }] of this.byAudience) {
      if (!ofDevice(principal)) continue;
      const cut = cutOffByChange(identity, token, certificate);
      if (!cut) continue;
      this.byAudience.delete(audience);
      dropped ??= cut;
    }
    for (const p of this.pending) {
      if (!p.principal) p.changes.set(deviceId, identity);
      else if (ofDevice(p.principal)) p.cut ??= cutOffByChange(identity, p.token);
    }
    if (dropped) this.schedule();
    return dropped;
  }

  /** Drops the X.509 principals whose chain went through one of the `removed` CAs; true when any was. */
  revokeCas(removed: ReadonlySet<string>): boolean {
    let dropped = false;
    for (const [audience, { principal }] of this.byAudience) {
      if (principal.kind === 'device' && principal.viaCas?.some((fp) => removed.has(fp))) {
        this.byAudience.delete(audience);
        dropped = true;
      }
    }
    if (dropped) this.schedule();
    return dropped;
  }

  get size(): number {
    return this.byAudience.size;
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.byAudience.clear();
    this.pending.clear();
  }

  private async authenticate(token: string): Promise<Principal> {
    const p: Pending = { token, principal: undefined, changes: new Map(), cut: undefined };
    this.pending.add(p);
    let principal: Principal;
    try {
      principal = await this.auth.authenticate(token);
    } catch (err) {
      this.pending.delete(p);
      throw err;
    }
    p.principal = principal;
    if (principal.kind === 'device' && p.changes.has(principal.deviceId)) {
      const cut = cutOffByChange(p.changes.get(principal.deviceId), token);
      if (cut) {
        this.pending.delete(p);
        throw new FerryError(cut.error, `Device "${principal.deviceId}": ${cut.reason}`);
      }
    }
    if (this.disposed) this.pending.delete(p);
    return principal;
  }

  private schedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const { principal } of this.byAudience.values()) earliest = Math.min(earliest, principal.expiresAt);
    if (earliest === Number.POSITIVE_INFINITY) return;
    // +1: the authenticator counts a token valid up to and including expiresAt.
    this.timer = this.clock.setTimer(() => this.expire(), earliest - this.clock.now() + 1);
  }

  private expire(): void {
    this.timer = undefined;
    if (this.disposed) return;
    const now = this.clock.now();
    let dropped = false;
    for (const [audience, { principal }] of this.byAudience) {
      if (principal.expiresAt < now) {
        this.byAudience.delete(audience);
        dropped = true;
      }
    }
    this.schedule();
    if (dropped) this.onExpired();
  }
}
