/**
 * `ferry monitor-events` follows telemetry live through the hub's Event Hubs-compatible endpoint:
 * started first, it prints the events devices send afterwards, with --device filtering out
 * another device's and --properties adding the system and application properties.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';
import { openDevice, telemetry } from './helpers/telemetry.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const T = { timeout: 90_000 };
let hub: HubProcess;
let monitor: ChildProcess | undefined;

before(async () => {
  hub = await startHub();
});

after(async () => {
  monitor?.kill('SIGKILL');
  await hub?.stop();
});

test('monitor-events --device --properties prints the live events of that device', T, async () => {
  const watched = await hub.createDevice('monitored');
  const other = await hub.createDevice('unwatched');
  monitor = spawn(
    process.execPath,
    [CLI_BIN, 'monitor-events', '--device', 'monitored', '--properties', '--timeout', '60', '--data-dir', hub.dataDir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  monitor.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  monitor.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await waitFor(() => (err.includes('Monitoring telemetry') ? true : undefined), {
    timeoutMs: 20_000,
    what: `the monitor started (stderr: ${err})`,
  });
  const a = await openDevice(hub, watched, 'Mqtt');
  const b = await openDevice(hub, other, 'Mqtt');
  try {
    // Sent until the monitor prints one: it reads from the time it attached, which may be after the first.
    await waitFor(
      async () => {
        await withTimeout(b.sendEvent(telemetry('not for the monitor')), 20_000, 'sendEvent unwatched');
        await withTimeout(
          a.sendEvent(telemetry('{"t":21.5}', { contentType: 'application/json', properties: { level: 'warm' } })),
          20_000,
          'sendEvent monitored',
        );
        return out.includes('"origin": "monitored"') ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000, what: `the event printed (stdout: ${out}, stderr: ${err})` },
    );
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  const first = JSON.parse(out.slice(0, out.indexOf('\n}\n') + 2)) as {
    event: {
      origin: string;
      payload: unknown;
      properties: { system: Record<string, unknown>; application: Record<string, string> };
    };
  };
  assert.equal(first.event.origin, 'monitored');
  assert.deepEqual(first.event.payload, { t: 21.5 });
  assert.deepEqual(first.event.properties.application, { level: 'warm' });
  assert.equal(first.event.properties.system['iothub-message-source'], 'Telemetry');
  assert.ok(!out.includes('not for the monitor'));
  assert.ok(!out.includes('unwatched'));
  monitor.kill('SIGINT');
  const code = await withTimeout(
    new Promise<number | null>((resolve) => monitor!.once('exit', resolve)),
    20_000,
    'the monitor stops on Ctrl+C',
  );
  assert.equal(code, 0);
});
