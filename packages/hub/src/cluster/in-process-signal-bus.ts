/**
 * The SignalBus of a single process (SQLite): listeners by device id, and feedback listeners. A
 * plain map of arrays, not an EventEmitter with an event name per device: every connected device
 * has a listener, and an idle connection should hold as little as it can.
 */
import type { ClusterEvents, SignalBus } from './signal-bus.js';

type Listener = () => void;

export class InProcessSignalBus implements SignalBus, ClusterEvents {
  private readonly devices = new Map<string, Listener[]>();
  private readonly twins = new Map<string, Listener[]>();
  private feedback: Listener[] = [];

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  notifyDevice(deviceId: string): void {
    const list = this.devices.get(deviceId);
    if (list) this.call(list);
  }

  onDevice(deviceId: string, fn: Listener): () => void {
    return subscribe(this.devices, deviceId, fn);
  }

  notifyTwin(deviceId: string): void {
    const list = this.twins.get(deviceId);
    if (list) this.call(list);
  }

  onTwin(deviceId: string, fn: Listener): () => void {
    return subscribe(this.twins, deviceId, fn);
  }

  notifyFeedback(): void {
    this.call(this.feedback);
  }

  onFeedback(fn: Listener): () => void {
    this.feedback = [...this.feedback, fn];
    return () => {
      this.feedback = this.feedback.filter((f) => f !== fn);
    };
  }

  /** Wakes every device, twin and feedback listener (after signals may have been missed). */
  wakeAll(): void {
    for (const list of [...this.devices.values()]) this.call(list);
    for (const list of [...this.twins.values()]) this.call(list);
    this.notifyFeedback();
  }

  publishDeviceChange(): void {}

  publishEvents(): void {}

  publishFeedbackRecords(): void {}

  onRemoteFeedbackRecords(): () => void {
    return () => {};
  }

  onRemoteEvents(): () => void {
    return () => {};
  }

  onRemoteDeviceChange(): () => void {
    return () => {};
  }

  publishConnection(): void {}

  onRemoteConnection(): () => void {
    return () => {};
  }

  publishCaChange(): void {}

  onRemoteCaChange(): () => void {
    return () => {};
  }

  onRemoteWake(): () => void {
    return () => {};
  }

  onSignalsMissed(): () => void {
    return () => {};
  }

  /**
   * Calls each listener there was when the signal came (one that unsubscribes another does not
   * skip it); a throwing listener must not stop the others nor reach the notifier (the engine's
   * commit path).
   */
  private call(list: readonly Listener[]): void {
    if (list.length === 1) {
      this.safely(list[0]!);
      return;
    }
    for (const fn of [...list]) this.safely(fn);
  }

  private safely(fn: Listener): void {
    try {
      fn();
    } catch (err) {
      this.onListenerError(err);
    }
  }
}

function subscribe(map: Map<string, Listener[]>, deviceId: string, fn: Listener): () => void {
  const list = map.get(deviceId);
  if (list) list.push(fn);
  else map.set(deviceId, [fn]);
  return () => {
    const now = map.get(deviceId);
    const at = now?.indexOf(fn) ?? -1;
    if (at === -1) return;
    if (now!.length === 1) map.delete(deviceId);
    else now!.splice(at, 1);
  };
}
