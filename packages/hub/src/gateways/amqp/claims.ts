/**
 * What one connection is authorized for: the principals of its valid tokens (CBS put-token,
 * keyed by audience so a renewal replaces the old token; or the SASL PLAIN password). One timer,
 * at the earliest expiry, drops expired principals and tells the connection to re-check its links.
 */
import type { Authenticator, Operation, Principal } from '../../auth/types.js';
import type { Clock, TimerHandle } from '../../clock.js';

export class Claims {
  private readonly byAudience = new Map<string, Principal>();
  private timer: TimerHandle | undefined;
  private disposed = false;

  constructor(
    private readonly auth: Authenticator,
    private readonly clock: Clock,
    /** Called after principals expired; the connection closes links no longer covered. */
    private readonly onExpired: () => void,
  ) {}

  put(audience: string, principal: Principal): void {
    if (this.disposed) return;
    this.byAudience.set(audience.toLowerCase(), principal);
    this.schedule();
  }

  /** True when some unexpired principal may do `op`. */
  can(op: Operation): boolean {
    for (const p of this.byAudience.values()) {
      if (this.auth.can(p, op)) return true;
    }
    return false;
  }

  get size(): number {
    return this.byAudience.size;
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.byAudience.clear();
  }

  private schedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const p of this.byAudience.values()) earliest = Math.min(earliest, p.expiresAt);
    if (earliest === Number.POSITIVE_INFINITY) return;
    // +1: the authenticator counts a token valid up to and including expiresAt.
    this.timer = this.clock.setTimer(() => this.expire(), earliest - this.clock.now() + 1);
  }

  private expire(): void {
    this.timer = undefined;
    if (this.disposed) return;
    const now = this.clock.now();
    let dropped = false;
    for (const [audience, p] of this.byAudience) {
      if (p.expiresAt < now) {
        this.byAudience.delete(audience);
        dropped = true;
      }
    }
    this.schedule();
    if (dropped) this.onExpired();
  }
}
