/**
 * The `ferry` command line against a real hub process: `hub start` output, the script commands,
 * `device create|show|list|delete` through the registry REST API, SIGTERM, and a taken port.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDeviceConnectionString } from '@ferry/common';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';
import { receive, settle } from './helpers/device-raw.js';
import { send, sendRaw } from './helpers/send.js';
import { connectSilent, midOf } from './mqtt-helpers.js';

const T = { timeout: 60_000 };
/** Two hub starts, forty HTTPS requests and a CLI run, on a busy machine. */
const T_RESTART = { timeout: 120_000 };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ferry(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

let hub: HubProcess;

before(async () => {
  hub = await startHub();
});

after(async () => {
  await hub?.stop();
});

test('hub start prints the iothubowner connection string, the CA path and how to trust it', T, () => {
  const out = hub.output();
  assert.ok(out.includes(hub.ownerConnectionString), out);
  assert.ok(hub.ownerConnectionString.startsWith(`HostName=${hub.address};SharedAccessKeyName=iothubowner;`));
  assert.ok(out.includes(`CA certificate: ${hub.caFile}`), out);
  assert.match(out, /NODE_EXTRA_CA_CERTS/);
  assert.match(out, /setOptions\(\{ ca/);
});

test('hub connection-string prints only the policy string; hub ca only the CA path', T, async () => {
  const service = await ferry(['hub', 'connection-string', '--data-dir', hub.dataDir, '--policy', 'service']);
  assert.equal(service.code, 0, service.stderr);
  assert.equal(service.stdout, `${hub.connectionString('service')}\n`);
  const owner = await ferry(['hub', 'connection-string', '--data-dir', hub.dataDir]);
  assert.equal(owner.stdout, `${hub.ownerConnectionString}\n`);
  const unknown = await ferry(['hub', 'connection-string', '--data-dir', hub.dataDir, '--policy', 'nobody']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no shared access policy named nobody; this hub has .*registryRead/);
  const ca = await ferry(['hub', 'ca', '--data-dir', hub.dataDir]);
  assert.equal(ca.code, 0, ca.stderr);
  assert.equal(ca.stdout, `${hub.caFile}\n`);
});

test('device create, show, list and delete through the registry REST API', T, async () => {
  const created = await ferry(['device', 'create', 'cli-dev-1', '--data-dir', hub.dataDir]);
  assert.equal(created.code, 0, created.stderr);
  const cs = parseDeviceConnectionString(created.stdout.trim());
  assert.equal(cs.hostName, hub.address);
  assert.equal(cs.deviceId, 'cli-dev-1');
  assert.match(cs.sharedAccessKey ?? '', /^[A-Za-z0-9+/]{40,}={0,2}$/);

  // The same through FERRY_CONNECTION_STRING and --ca, as from another directory.
  const elsewhere = { FERRY_CONNECTION_STRING: hub.connectionString('registryReadWrite') };
  const second = await ferry(['device', 'create', 'cli-dev-2', '--disabled', '--ca', hub.caFile], elsewhere);
  assert.equal(second.code, 0, second.stderr);

  const shown = await ferry(['device', 'show', 'cli-dev-1', '--data-dir', hub.dataDir]);
  assert.equal(shown.code, 0, shown.stderr);
  const json = JSON.parse(shown.stdout) as { deviceId: string; status: string; authentication: unknown };
  assert.equal(json.deviceId, 'cli-dev-1');
  assert.equal(json.status, 'enabled');

  const listed = await ferry(['device', 'list', '--data-dir', hub.dataDir]);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trim().split('\n');
  assert.match(lines[0]!, /^DEVICE ID\s+STATUS\s+CONNECTION/);
  assert.ok(
    lines.some((l) => /^cli-dev-1\s+enabled\s/.test(l)),
    listed.stdout,
  );
  assert.ok(
    lines.some((l) => /^cli-dev-2\s+disabled\s/.test(l)),
    listed.stdout,
  );

  const deleted = await ferry(['device', 'delete', 'cli-dev-1', '--data-dir', hub.dataDir]);
  assert.equal(deleted.code, 0, deleted.stderr);
  const gone = await ferry(['device', 'show', 'cli-dev-1', '--data-dir', hub.dataDir]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /DeviceNotFound \(404001\): device cli-dev-1 is not registered/);
  const duplicate = await ferry(['device', 'create', 'cli-dev-2', '--data-dir', hub.dataDir]);
  assert.equal(duplicate.code, 1);
  assert.match(duplicate.stderr, /DeviceAlreadyExists \(409001\)/);
});

test('a read-only policy cannot create devices, and the error says why', T, async () => {
  const r = await ferry(['device', 'create', 'cli-dev-3', '--ca', hub.caFile], {
    FERRY_CONNECTION_STRING: hub.connectionString('registryRead'),
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /IotHubUnauthorizedAccess \(401002\)/);
});

test(
  'ports already taken: the second hub names every taken port, says another hub holds them, and exits non-zero',
  T,
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ferry-cli-taken-'));
    const child = spawn(
      process.execPath,
      [CLI_BIN, 'hub', 'start', '--data-dir', dataDir, '--host', hub.address, '--bind', hub.address],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    const at = hub.address.replace(/\./g, '\\.');
    assert.match(
      stderr,
      new RegExp(`ports ${at}:443 \\(https\\), ${at}:8883 \\(mqtts\\), ${at}:5671 \\(amqps\\) are already in use`),
    );
    assert.match(stderr, /Another Ferry hub, or another program, holds them/);
    assert.match(stderr, /--port-https.*--port-mqtts.*--port-amqps/);
  },
);

test(
  'SIGTERM: leased messages go back to their queue, every acknowledged send is kept, "hub stopped", exit 0',
  T_RESTART,
  async () => {
    // A lock far longer than the test: only the shutdown can make the leased message deliverable
    // again after the restart (a kill -9 leaves it locked until its lock expires).
    const other = await startHub({ config: { c2d: { lockTimeoutMs: 600_000 }, log: { level: 'info' } } });
    const deviceId = 'graceful';
    const cs = await other.createDevice(deviceId);
    const mqtt = await connectSilent(other, cs);
    const acked: string[] = [];
    try {
      await mqtt.mqtt.subscribeAsync(`devices/${deviceId}/messages/devicebound/#`, { qos: 1 });
      await send(other, deviceId, { messageId: 'leased' });
      assert.equal(midOf(await mqtt.nth(1)), 'leased', 'delivered over MQTT and never acknowledged');

      // Sends in flight when SIGTERM comes: it is sent as soon as the fifth of them is acknowledged.
      let stopped: Promise<number | null> | undefined;
      const sends = Array.from({ length: 20 }, async (_, i) => {
        const messageId = `in-flight-${i}`;
        const res = await sendRaw(other, deviceId, { messageId }).catch(() => undefined);
        if (res?.status !== 204) return;
        acked.push(messageId);
        if (acked.length === 5) stopped = other.stop();
      });
      await Promise.all(sends);
      assert.ok(stopped, `SIGTERM was sent (sends acknowledged: ${acked.length})`);
      assert.equal(await stopped, 0, `exit code after SIGTERM; output:\n${other.output().slice(-2000)}`);
      assert.match(other.output(), /"msg":"hub stopped"/);
    } finally {
      await mqtt.end();
    }

    const r = await ferry(['device', 'list', '--data-dir', other.dataDir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /connection refused\)\. Is it running\? Start it with `npx ferry hub start`/);

    await other.restart();
    try {
      const first = await receive(other, cs);
      assert.equal(first?.headers['iothub-messageid'], 'leased', 'the leased message was returned to its queue');
      // Returned as a lock expiry would return it: not counted as a delivery (c2d.countLockExpiry false).
      assert.equal(first?.headers['iothub-deliverycount'], '0');
      await settle(other, cs, 'complete', first!.lockToken);
      const kept = new Set<string>();
      for (let m = await receive(other, cs); m; m = await receive(other, cs)) {
        kept.add(String(m.headers['iothub-messageid']));
        await settle(other, cs, 'complete', m.lockToken);
      }
      const lost = acked.filter((id) => !kept.has(id));
      assert.deepEqual(lost, [], `acknowledged before or during the shutdown but gone after the restart`);
    } finally {
      await other.stop();
    }
  },
);
