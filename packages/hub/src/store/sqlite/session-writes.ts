/**
 * MQTT session writes of one turn of the event loop in one transaction: a burst of SUBSCRIBEs
 * (a fleet reconnecting) costs one fsync per turn instead of one per device. Each write resolves
 * after its transaction committed and is on disk (`afterSync`); writes keep their order; a read
 * sees what waits (waitingFor).
 */
import type Database from 'better-sqlite3';
import type { MqttSessionRecord } from '../types.js';
import type { RegistryTables } from './registry-tables.js';

type Write = { put: MqttSessionRecord } | { remove: string };

interface Waiting {
  write: Write;
  resolve(): void;
  reject(err: unknown): void;
}

export class SessionWrites {
  private waiting: Waiting[] = [];
  private readonly writeAll: (writes: readonly Write[]) => void;

  /** `afterSync(done)`: calls `done` once what was committed so far is on disk (WalSync.after). */
  constructor(
    db: Database.Database,
    registry: RegistryTables,
    private readonly afterSync: (done: (err: Error | null) => void) => void = (done) => done(null),
  ) {
    this.writeAll = db.transaction((writes: readonly Write[]) => {
      for (const w of writes) {
        if ('put' in w) registry.putMqttSession(w.put);
        else registry.deleteMqttSession(w.remove);
      }
    });
  }

  submit(write: Write): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ write, resolve, reject });
      // setImmediate: the I/O callbacks of this turn add theirs first.
      if (this.waiting.length === 1) setImmediate(() => this.flush());
    });
  }

  /**
   * The last write waiting for the device: the session it puts, null when it removes it, undefined
   * when nothing waits for it (then the table has the answer). Lets a read see the writes issued
   * before it without committing them first.
   */
  waitingFor(deviceId: string): MqttSessionRecord | null | undefined {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i]!.write;
      if ('put' in w) {
        if (w.put.deviceId === deviceId) return w.put;
      } else if (w.remove === deviceId) {
        return null;
      }
    }
    return undefined;
  }

  /** Commits what waits (before a device is deleted, and at close). */
  flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    try {
      this.writeAll(batch.map((w) => w.write));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    this.afterSync((err) => {
      for (const w of batch) {
        if (err) w.reject(err);
        else w.resolve();
      }
    });
  }
}
