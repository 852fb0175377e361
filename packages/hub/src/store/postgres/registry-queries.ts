/** Devices, shared access policies and MQTT sessions on PostgreSQL: one statement each, so each is atomic. */
import type pg from 'pg';
import { DEVICE_COLUMNS, type DeviceRow, deviceRecordOf, mqttSessionOf, twinSubsBits } from '../rows.js';
import type { DeviceRecord, MqttSessionRecord, PolicyRecord } from '../types.js';

/** $1..$12 in DEVICE_COLUMNS order. */
function values(d: DeviceRecord): unknown[] {
  return [
    d.deviceId,
    d.generationId,
    d.etag,
    d.status,
    d.statusReason,
    d.statusUpdatedTime,
    d.authType,
    d.primaryKey,
    d.secondaryKey,
    d.primaryThumbprint,
    d.secondaryThumbprint,
    d.iotEdge,
  ];
}

export class RegistryQueries {
  /** A pool, or one client inside a transaction (writeDevices). */
  constructor(private readonly pool: pg.Pool | pg.PoolClient) {}

  async insertDevice(d: DeviceRecord): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (device_id) DO NOTHING`,
      values(d),
    );
    return r.rowCount === 1;
  }

  async replaceDevice(d: DeviceRecord, expectedEtag: string | null): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE devices SET generation_id = $2, etag = $3, status = $4, status_reason = $5, status_updated_time = $6,
         auth_type = $7, primary_key = $8, secondary_key = $9, primary_thumbprint = $10, secondary_thumbprint = $11,
         iot_edge = $12
       WHERE device_id = $1 AND ($13::text IS NULL OR etag = $13)`,
      [...values(d), expectedEtag],
    );
    return r.rowCount === 1;
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const r = await this.pool.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = $1`, [
      deviceId,
    ]);
    return r.rows[0] && deviceRecordOf(r.rows[0]);
  }

  async listDevices(limit: number): Promise<DeviceRecord[]> {
    const r = await this.pool.query<DeviceRow>(
      // COLLATE "C": the same byte order as SQLite's, whatever the database's collation.
      `SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY device_id COLLATE "C" LIMIT $1`,
      [Math.max(0, Math.floor(limit))],
    );
    return r.rows.map(deviceRecordOf);
  }

  /** The device, its queue, its session, its un-batched feedback and its twin go together (spec §1.9), in one statement. */
  async deleteDevice(deviceId: string, expectedEtag: string | null): Promise<boolean> {
    const r = await this.pool.query<{ n: number }>(
      `WITH gone AS (DELETE FROM devices WHERE device_id = $1 AND ($2::text IS NULL OR etag = $2) RETURNING device_id),
         q AS (DELETE FROM c2d_messages WHERE device_id IN (SELECT device_id FROM gone)),
         dl AS (DELETE FROM c2d_dead_letters WHERE device_id IN (SELECT device_id FROM gone)),
         h AS (DELETE FROM c2d_history WHERE device_id IN (SELECT device_id FROM gone)),
         s AS (DELETE FROM mqtt_sessions WHERE device_id IN (SELECT device_id FROM gone)),
         f AS (DELETE FROM feedback_pending WHERE device_id IN (SELECT device_id FROM gone)),
         t AS (DELETE FROM twins WHERE device_id IN (SELECT device_id FROM gone))
       SELECT count(*)::integer AS n FROM gone`,
      [deviceId, expectedEtag],
    );
    return r.rows[0]?.n === 1;
  }

  async countDevices(): Promise<{ total: number; enabled: number; disabled: number }> {
    const r = await this.pool.query<{ total: number; enabled: number }>(
      "SELECT count(*)::integer AS total, count(*) FILTER (WHERE status = 'enabled')::integer AS enabled FROM devices",
    );
    const { total, enabled } = r.rows[0]!;
    return { total, enabled, disabled: total - enabled };
  }

  async getPolicies(): Promise<PolicyRecord[]> {
    const r = await this.pool.query<{ key_name: string; primary_key: string; secondary_key: string; rights: string }>(
      'SELECT key_name, primary_key, secondary_key, rights FROM policies ORDER BY key_name COLLATE "C"',
    );
    return r.rows.map((p) => ({
      keyName: p.key_name,
      primaryKey: p.primary_key,
      secondaryKey: p.secondary_key,
      rights: JSON.parse(p.rights) as string[],
    }));
  }

  /** Two nodes starting at once both offer new keys; the first insert wins and both read it back. */
  async ensurePolicies(policies: PolicyRecord[]): Promise<void> {
    if (policies.length === 0) return;
    await this.pool.query(
      `INSERT INTO policies (key_name, primary_key, secondary_key, rights)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT (key_name) DO NOTHING`,
      [
        policies.map((p) => p.keyName),
        policies.map((p) => p.primaryKey),
        policies.map((p) => p.secondaryKey),
        policies.map((p) => JSON.stringify(p.rights)),
      ],
    );
  }

  async getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined> {
    const r = await this.pool.query<{ device_id: string; c2d_qos: number | null; twin_subs: number | null }>(
      'SELECT device_id, c2d_qos, twin_subs FROM mqtt_sessions WHERE device_id = $1',
      [deviceId],
    );
    const s = r.rows[0];
    return s && mqttSessionOf(s);
  }

  async putMqttSession(s: MqttSessionRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO mqtt_sessions (device_id, c2d_qos, twin_subs) VALUES ($1, $2, $3)
       ON CONFLICT (device_id) DO UPDATE SET c2d_qos = excluded.c2d_qos, twin_subs = excluded.twin_subs`,
      [s.deviceId, s.c2dQos, twinSubsBits(s)],
    );
  }

  async deleteMqttSession(deviceId: string): Promise<void> {
    await this.pool.query('DELETE FROM mqtt_sessions WHERE device_id = $1', [deviceId]);
  }
}
