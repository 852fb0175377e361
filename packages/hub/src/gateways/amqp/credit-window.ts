/**
 * The credit a receiving link keeps its peer topped up with: at most `size` transfers granted or
 * awaiting settlement at once (a transfer holds its place until it is settled, after its commit),
 * refilled in steps of a quarter of the window so flow frames stay rare.
 */
import type { Receiver } from 'rhea';

export class CreditWindow {
  /** Credit the peer holds (granted, not yet used). */
  private granted = 0;
  /** Transfers received and not yet settled. */
  private inFlight = 0;

  constructor(
    private readonly receiver: Receiver,
    private readonly size: number,
  ) {}

  /** A transfer arrived: false when the peer had no credit for it (the link must be closed). */
  take(): boolean {
    if (this.granted <= 0) return false;
    this.granted--;
    this.inFlight++;
    return true;
  }

  /** A taken transfer was settled (refill() then gives its place back to the peer). */
  settled(): void {
    this.inFlight--;
  }

  refill(): void {
    const room = this.size - this.inFlight - this.granted;
    if (room >= this.size / 4 || (this.granted === 0 && room > 0)) {
      this.granted += room;
      this.receiver.add_credit(room);
    }
  }
}
