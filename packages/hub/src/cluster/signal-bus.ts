/**
 * Cross-node "something may be available" signals. In-process for SQLite; LISTEN/NOTIFY for
 * PostgreSQL, so the node holding a device's connection learns of a message sent through another.
 * Signals carry no data and may be spurious: a listener re-reads the store.
 */
export interface SignalBus {
  notifyDevice(deviceId: string): void;
  /** Returns an unsubscribe function. */
  onDevice(deviceId: string, fn: () => void): () => void;
  notifyFeedback(): void;
  onFeedback(fn: () => void): () => void;
}
