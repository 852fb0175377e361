/** The SignalBus of a single process (SQLite): an EventEmitter, one event name per device. */
import { EventEmitter } from 'node:events';
import type { ClusterEvents, SignalBus } from './signal-bus.js';

const FEEDBACK = Symbol('feedback');

export class InProcessSignalBus implements SignalBus, ClusterEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {
    // One listener per connected device receiver: thousands are normal, not a leak.
    this.emitter.setMaxListeners(0);
  }

  notifyDevice(deviceId: string): void {
    this.emitter.emit(`d:${deviceId}`);
  }

  onDevice(deviceId: string, fn: () => void): () => void {
    return this.subscribe(`d:${deviceId}`, fn);
  }

  notifyFeedback(): void {
    this.emitter.emit(FEEDBACK);
  }

  onFeedback(fn: () => void): () => void {
    return this.subscribe(FEEDBACK, fn);
  }

  /** Wakes every device and feedback listener (after signals may have been missed). */
  wakeAll(): void {
    for (const event of this.emitter.eventNames()) this.emitter.emit(event);
  }

  publishDeviceChange(): void {}

  onRemoteDeviceChange(): () => void {
    return () => {};
  }

  publishConnection(): void {}

  onRemoteConnection(): () => void {
    return () => {};
  }

  onRemoteWake(): () => void {
    return () => {};
  }

  onSignalsMissed(): () => void {
    return () => {};
  }

  private subscribe(event: string | symbol, fn: () => void): () => void {
    // A throwing listener must not stop the others nor reach the notifier (the engine's commit path).
    const safe = () => {
      try {
        fn();
      } catch (err) {
        this.onListenerError(err);
      }
    };
    this.emitter.on(event, safe);
    return () => {
      this.emitter.off(event, safe);
    };
  }
}
