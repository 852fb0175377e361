/**
 * Persistent MQTT sessions (clean session 0): whether the device is subscribed to its C2D topic
 * and at which QoS. The messages themselves stay in the engine's queue, so the session is tiny.
 */
import type { MqttSessionRecord, RegistryStore } from '../../store/types.js';

export type MqttSessionStore = Pick<RegistryStore, 'getMqttSession' | 'putMqttSession' | 'deleteMqttSession'>;

/** Used when the hub gives the gateway no store: sessions survive reconnects, not restarts. */
export class MemorySessionStore implements MqttSessionStore {
  private readonly sessions = new Map<string, MqttSessionRecord>();

  async getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined> {
    const s = this.sessions.get(deviceId);
    return s && { ...s };
  }

  async putMqttSession(session: MqttSessionRecord): Promise<void> {
    this.sessions.set(session.deviceId, { ...session });
  }

  async deleteMqttSession(deviceId: string): Promise<void> {
    this.sessions.delete(deviceId);
  }
}
