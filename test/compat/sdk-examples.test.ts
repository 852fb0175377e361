/**
 * The walk-through samples (examples/message-receive-sample, examples/send-cloud-to-device,
 * examples/control-a-device), spawned as a user runs them against a real hub: phase 1 polling,
 * phase 2 handler, and `Received feedback: Success` for each message sent; a direct method that
 * changes a simulated device's telemetry pace, and that telemetry read back.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type HubProcess, startHub } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const T = { timeout: 90_000 };

interface Sample {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once stdout holds `text` `times` times. */
  printed(text: string, times?: number): Promise<void>;
  type(line: string): void;
  exited: Promise<number | null>;
  output(): string;
}

function run(script: string, args: string[]): Sample {
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const count = (text: string) => out.split(text).length - 1;
  return {
    child,
    printed(text, times = 1) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (count(text) >= times) resolve();
          else waiters.push(check);
        };
        exited.then(() => reject(new Error(`${script} exited before printing "${text}":\n${out}`)));
        check();
      });
    },
    type: (line) => child.stdin.write(`${line}\n`),
    exited,
    output: () => out,
  };
}

let hub: HubProcess;
const running: Sample[] = [];

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
});

after(async () => {
  for (const s of running) s.child.kill();
  await hub?.stop();
});

test('the receive sample gets what the send sample sends, in both phases, and the sender sees Success', T, async () => {
  const deviceCs = await hub.createDevice('sample-device');
  const receiver = run('examples/message-receive-sample/index.mjs', [deviceCs, '--ca', hub.caFile]);
  running.push(receiver);
  await receiver.printed('Device waiting for C2D messages from the hub...');
  await receiver.printed('Trying to receive C2D messages by polling using the receive() method.');

  const sender = run('examples/send-cloud-to-device/index.mjs', [
    hub.connectionString('service'),
    'sample-device',
    '--ca',
    hub.caFile,
  ]);
  running.push(sender);
  await sender.printed('Press Enter to send a C2D message');

  sender.type('');
  await receiver.printed('Polling using receive() - received message with Id=');
  await receiver.printed('Received message: [Cloud to device message.]');
  await receiver.printed('Completed C2D message with Id=');
  await sender.printed('Received feedback: Success');

  receiver.type('n');
  await receiver.printed('Subscribing to receive C2D messages through a callback');
  sender.type('');
  await receiver.printed('C2D message callback - message received with Id=');
  await receiver.printed('Received message: [Cloud to device message.]', 2);
  await sender.printed('Received feedback: Success', 2);

  receiver.type('q');
  sender.type('q');
  assert.equal(await receiver.exited, 0, receiver.output());
  assert.equal(await sender.exited, 0, sender.output());
  const ids = [...sender.output().matchAll(/Sent message with Id=(\S+)/g)].map((m) => m[1]);
  assert.equal(ids.length, 2);
  for (const id of ids) assert.match(receiver.output(), new RegExp(`Completed C2D message with Id=${id}\\.`));
});

for (const transport of ['mqtt', 'amqp']) {
  test(
    `control a device over ${transport}: the back end sets the telemetry interval by direct method, then reads the telemetry`,
    T,
    async () => {
      const id = `sim-${transport}`;
      const deviceCs = await hub.createDevice(id);
      const device = run('examples/control-a-device/simulated-device.mjs', [
        deviceCs,
        '--transport',
        transport,
        '--ca',
        hub.caFile,
      ]);
      running.push(device);
      await device.printed('Sent message: {"temperature":');
      const backEnd = run('examples/control-a-device/back-end-application.mjs', [
        hub.connectionString('service'),
        id,
        '1',
        '--ca',
        hub.caFile,
      ]);
      running.push(backEnd);
      await backEnd.printed(
        `Response from SetTelemetryInterval on ${id}: {"status":200,"payload":"Telemetry interval set: 1"}`,
      );
      await device.printed('Direct method SetTelemetryInterval: now every 1 s');
      await backEnd.printed(`Telemetry from ${id}: {"temperature":`);
      assert.match(backEnd.output(), /"temperatureAlert":"(true|false)"/);
      device.child.kill('SIGINT');
      backEnd.child.kill('SIGINT');
      assert.equal(await device.exited, 0, device.output());
    },
  );
}

test('without a connection string each sample prints its usage and exits 2', T, async () => {
  for (const script of [
    'examples/message-receive-sample/index.mjs',
    'examples/send-cloud-to-device/index.mjs',
    'examples/control-a-device/simulated-device.mjs',
    'examples/control-a-device/back-end-application.mjs',
  ]) {
    const s = run(script, []);
    s.child.stdin.end();
    assert.equal(await s.exited, 2);
    assert.match(s.output(), /^Usage: node examples\//);
  }
});
