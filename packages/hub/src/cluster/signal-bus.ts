/**
 * Cross-node "something may be available" signals. In-process for SQLite; LISTEN/NOTIFY for
 * PostgreSQL, so the node holding a device's connection learns of a message sent through another.
 * Signals carry no data and may be spurious: a listener re-reads the store.
 */
import type { FeedbackRecord } from '@ferry/common';

export interface SignalBus {
  notifyDevice(deviceId: string): void;
  /** Returns an unsubscribe function. */
  onDevice(deviceId: string, fn: () => void): () => void;
  notifyFeedback(): void;
  onFeedback(fn: () => void): () => void;
}

export type ConnectionProtocol = 'mqtt' | 'amqp';

/**
 * What one node tells the others beyond C2D wake-ups. A single process has no others, so its bus
 * sends nothing and never calls back.
 */
export interface ClusterEvents {
  /** A registry write committed on this node: the others re-read the device and cut off what it no longer allows. */
  publishDeviceChange(deviceId: string): void;
  onRemoteDeviceChange(fn: (deviceId: string) => void): () => void;
  /** This node now holds the device's connection (claimed at `at`, ms): the others drop theirs, as the newest wins. */
  publishConnection(protocol: ConnectionProtocol, deviceId: string, at: number): void;
  onRemoteConnection(fn: (protocol: ConnectionProtocol, deviceId: string, at: number) => void): () => void;
  /**
   * A device's twin changed (committed): its listeners on every node re-read it (twins domain:
   * desired-property notifications). Like every signal, it may be spurious.
   */
  notifyTwin(deviceId: string): void;
  onTwin(deviceId: string, fn: () => void): () => void;
  /** A CA certificate write committed on this node: the others read the verified CA certificates again. */
  publishCaChange(): void;
  onRemoteCaChange(fn: () => void): () => void;
  /**
   * Telemetry was committed on this node to the event-log partition: readers on the others read
   * it again. Calls in one event-loop turn are coalesced into one NOTIFY per partition set.
   */
  publishEvents(partition: number): void;
  onRemoteEvents(fn: (partition: number) => void): () => void;
  /**
   * Feedback records committed on this node, for the live views (console streams) on the others.
   * Best effort, as every signal: the records themselves are the feedback queue's, in the store.
   * Calls in one event-loop turn are sent together.
   */
  publishFeedbackRecords(records: readonly FeedbackRecord[]): void;
  onRemoteFeedbackRecords(fn: (records: readonly FeedbackRecord[]) => void): () => void;
  /** A device woken by another node's commit (its onDevice listeners are called as well). */
  onRemoteWake(fn: (deviceId: string) => void): () => void;
  /**
   * Wake-ups from other nodes may have been missed (the LISTEN connection was lost and is back):
   * whoever waits for any device must read the store again. onDevice listeners are called as well.
   */
  onSignalsMissed(fn: () => void): () => void;
}
