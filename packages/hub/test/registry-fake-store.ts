/** An in-memory RegistryStore for registry and HTTP tests (the SQLite adapter has its own contract suite). */
import type {
  DevicePageQuery,
  DeviceRecord,
  InspectionStore,
  MqttSessionRecord,
  PolicyRecord,
  RegistryStore,
} from '../src/store/types.js';

export class FakeRegistryStore implements RegistryStore, Pick<InspectionStore, 'listDevicePage'> {
  readonly devices = new Map<string, DeviceRecord>();
  readonly policyRows = new Map<string, PolicyRecord>();
  readonly sessions = new Map<string, MqttSessionRecord>();
  ensureCalls = 0;

  async insertDevice(device: DeviceRecord): Promise<boolean> {
    if (this.devices.has(device.deviceId)) return false;
    this.devices.set(device.deviceId, { ...device });
    return true;
  }

  async replaceDevice(device: DeviceRecord, expectedEtag?: string): Promise<boolean> {
    const cur = this.devices.get(device.deviceId);
    if (!cur || (expectedEtag !== undefined && cur.etag !== expectedEtag)) return false;
    this.devices.set(device.deviceId, { ...device });
    return true;
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const d = this.devices.get(deviceId);
    return d ? { ...d } : undefined;
  }

  async listDevices(limit: number): Promise<DeviceRecord[]> {
    return [...this.devices.values()]
      .sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))
      .slice(0, limit)
      .map((d) => ({ ...d }));
  }

  async listDevicePage(q: DevicePageQuery): Promise<DeviceRecord[]> {
    const after = q.afterDeviceId ?? '';
    const text = q.idContains?.toLowerCase();
    return [...this.devices.values()]
      .filter((d) => d.deviceId > after && (!text || d.deviceId.toLowerCase().includes(text)))
      .sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))
      .slice(0, q.limit)
      .map((d) => ({ ...d }));
  }

  async deleteDevice(deviceId: string, expectedEtag?: string): Promise<boolean> {
    const cur = this.devices.get(deviceId);
    if (!cur || (expectedEtag !== undefined && cur.etag !== expectedEtag)) return false;
    this.devices.delete(deviceId);
    this.sessions.delete(deviceId);
    return true;
  }

  async countDevices(): Promise<{ total: number; enabled: number; disabled: number }> {
    const all = [...this.devices.values()];
    const enabled = all.filter((d) => d.status === 'enabled').length;
    return { total: all.length, enabled, disabled: all.length - enabled };
  }

  async getPolicies(): Promise<PolicyRecord[]> {
    return [...this.policyRows.values()].map((p) => ({ ...p, rights: [...p.rights] }));
  }

  async ensurePolicies(policies: PolicyRecord[]): Promise<void> {
    this.ensureCalls++;
    for (const p of policies) if (!this.policyRows.has(p.keyName)) this.policyRows.set(p.keyName, { ...p });
  }

  async getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined> {
    return this.sessions.get(deviceId);
  }

  async putMqttSession(session: MqttSessionRecord): Promise<void> {
    this.sessions.set(session.deviceId, session);
  }

  async deleteMqttSession(deviceId: string): Promise<void> {
    this.sessions.delete(deviceId);
  }
}
