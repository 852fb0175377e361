/** Devices, shared access policies and MQTT sessions on SQLite. Synchronous; the store wraps it. */
import type Database from 'better-sqlite3';
import { DEVICE_COLUMNS, type DeviceRow, deviceRecordOf, mqttSessionOf, twinSubsBits } from '../rows.js';
import type { DeviceRecord, DeviceWrite, MqttSessionRecord, PolicyRecord } from '../types.js';

function toParams(d: DeviceRecord) {
  return {
    device_id: d.deviceId,
    generation_id: d.generationId,
    etag: d.etag,
    status: d.status,
    status_reason: d.statusReason,
    status_updated_time: d.statusUpdatedTime,
    auth_type: d.authType,
    primary_key: d.primaryKey,
    secondary_key: d.secondaryKey,
    primary_thumbprint: d.primaryThumbprint,
    secondary_thumbprint: d.secondaryThumbprint,
    iot_edge: d.iotEdge ? 1 : 0,
  };
}

export class RegistryTables {
  private readonly insert;
  private readonly replace;
  private readonly get;
  private readonly list;
  private readonly remove;
  private readonly count;
  private readonly policies;
  private readonly insertPolicy;
  private readonly getSession;
  private readonly putSession;
  private readonly removeSession;
  private readonly removeQueue;
  private readonly removeDeadLetters;
  private readonly removeHistory;
  private readonly removePendingFeedback;
  private readonly removeTwin;
  readonly deleteDevice: (deviceId: string, expectedEtag: string | null) => boolean;
  /** Bulk writes in one transaction (deleteDevice nests as a savepoint). */
  readonly writeDevices: (writes: readonly DeviceWrite[]) => boolean[];

  constructor(db: Database.Database) {
    this.insert = db.prepare(`INSERT OR IGNORE INTO devices (${DEVICE_COLUMNS}) VALUES (@device_id, @generation_id,
      @etag, @status, @status_reason, @status_updated_time, @auth_type, @primary_key, @secondary_key,
      @primary_thumbprint, @secondary_thumbprint, @iot_edge)`);
    this.replace = db.prepare(`UPDATE devices SET generation_id = @generation_id, etag = @etag, status = @status,
      status_reason = @status_reason, status_updated_time = @status_updated_time, auth_type = @auth_type,
      primary_key = @primary_key, secondary_key = @secondary_key, primary_thumbprint = @primary_thumbprint,
      secondary_thumbprint = @secondary_thumbprint, iot_edge = @iot_edge
      WHERE device_id = @device_id AND (@expected IS NULL OR etag = @expected)`);
    this.get = db.prepare<[string], DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = ?`);
    this.list = db.prepare<[number], DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY device_id LIMIT ?`);
    this.remove = db.prepare('DELETE FROM devices WHERE device_id = ? AND (? IS NULL OR etag = ?)');
    this.count = db.prepare<[], { total: number; enabled: number | null }>(
      "SELECT COUNT(*) AS total, SUM(status = 'enabled') AS enabled FROM devices",
    );
    this.policies = db.prepare<[], { key_name: string; primary_key: string; secondary_key: string; rights: string }>(
      'SELECT key_name, primary_key, secondary_key, rights FROM policies ORDER BY key_name',
    );
    this.insertPolicy = db.prepare(
      'INSERT OR IGNORE INTO policies (key_name, primary_key, secondary_key, rights) VALUES (?, ?, ?, ?)',
    );
    this.getSession = db.prepare<[string], { device_id: string; c2d_qos: number | null; twin_subs: number | null }>(
      'SELECT device_id, c2d_qos, twin_subs FROM mqtt_sessions WHERE device_id = ?',
    );
    this.putSession = db.prepare(
      `INSERT INTO mqtt_sessions (device_id, c2d_qos, twin_subs) VALUES (?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET c2d_qos = excluded.c2d_qos, twin_subs = excluded.twin_subs`,
    );
    this.removeSession = db.prepare('DELETE FROM mqtt_sessions WHERE device_id = ?');
    this.removeQueue = db.prepare('DELETE FROM c2d_messages WHERE device_id = ?');
    this.removeDeadLetters = db.prepare('DELETE FROM c2d_dead_letters WHERE device_id = ?');
    // Ended copies' history: moved in batches from c2d_history_recent (history-table.ts).
    const history = ['c2d_history', 'c2d_history_recent'].map((t) =>
      db.prepare(`DELETE FROM ${t} WHERE device_id = ?`),
    );
    this.removeHistory = {
      run: (deviceId: string) => {
        for (const s of history) s.run(deviceId);
      },
    };
    this.removePendingFeedback = db.prepare('DELETE FROM feedback_pending WHERE device_id = ?');
    this.removeTwin = db.prepare('DELETE FROM twins WHERE device_id = ?');
    // The device, its queue, its session, its un-batched feedback and its twin go together (spec §1.9).
    this.deleteDevice = db.transaction((deviceId: string, expectedEtag: string | null): boolean => {
      if (this.remove.run(deviceId, expectedEtag, expectedEtag).changes !== 1) return false;
      this.removeQueue.run(deviceId);
      this.removeDeadLetters.run(deviceId);
      this.removeHistory.run(deviceId);
      this.removeSession.run(deviceId);
      this.removePendingFeedback.run(deviceId);
      this.removeTwin.run(deviceId);
      return true;
    });
    this.writeDevices = db.transaction((writes: readonly DeviceWrite[]): boolean[] =>
      writes.map((w) => {
        if (w.kind === 'insert') return this.insertDevice(w.device);
        if (w.kind === 'replace') return this.replaceDevice(w.device, w.expectedEtag ?? null);
        return this.deleteDevice(w.deviceId, w.expectedEtag ?? null);
      }),
    );
  }

  insertDevice(d: DeviceRecord): boolean {
    return this.insert.run(toParams(d)).changes === 1;
  }

  replaceDevice(d: DeviceRecord, expectedEtag: string | null): boolean {
    return this.replace.run({ ...toParams(d), expected: expectedEtag }).changes === 1;
  }

  getDevice(deviceId: string): DeviceRecord | undefined {
    const r = this.get.get(deviceId);
    return r && deviceRecordOf(r);
  }

  listDevices(limit: number): DeviceRecord[] {
    return this.list.all(Math.max(0, Math.floor(limit))).map(deviceRecordOf);
  }

  countDevices(): { total: number; enabled: number; disabled: number } {
    const r = this.count.get()!;
    const enabled = r.enabled ?? 0;
    return { total: r.total, enabled, disabled: r.total - enabled };
  }

  getPolicies(): PolicyRecord[] {
    return this.policies.all().map((r) => ({
      keyName: r.key_name,
      primaryKey: r.primary_key,
      secondaryKey: r.secondary_key,
      rights: JSON.parse(r.rights) as string[],
    }));
  }

  ensurePolicies(policies: PolicyRecord[]): void {
    for (const p of policies) this.insertPolicy.run(p.keyName, p.primaryKey, p.secondaryKey, JSON.stringify(p.rights));
  }

  getMqttSession(deviceId: string): MqttSessionRecord | undefined {
    const r = this.getSession.get(deviceId);
    return r && mqttSessionOf(r);
  }

  putMqttSession(s: MqttSessionRecord): void {
    this.putSession.run(s.deviceId, s.c2dQos, twinSubsBits(s));
  }

  deleteMqttSession(deviceId: string): void {
    this.removeSession.run(deviceId);
  }
}
