// IoT Hub's MessageReceiveSample with Ferry's device SDK: phase 1 polls with receive() (null
// means nothing came within the time-out: keep waiting) and completes each message; typing `n`
// moves to phase 2, a message handler. `q` (or Ctrl+C) quits.
import { DeviceClient } from '@ferry/device';
import { now, onInputLine, sampleArgs } from './args.mjs';

const USAGE = `Usage: node examples/message-receive-sample/index.mjs "<device connection string>" [--transport mqtt|amqp|https] [--ca FILE]
  (or set FERRY_DEVICE_CONNECTION_STRING; the CA defaults to ./ferry-data/tls/ca.pem when there is one)`;

const args = sampleArgs(USAGE, 'FERRY_DEVICE_CONNECTION_STRING', 0);
const client = DeviceClient.fromConnectionString(args.connectionString, {
  transport: args.transport ?? 'mqtt',
  ...(args.ca ? { ca: args.ca } : {}),
});

let phase = 1;
let quitting = false;

function printMessage(message) {
  const lines = [`Received message: [${message.body.toString('utf8')}]`];
  for (const [key, value] of Object.entries(message.properties)) lines.push(`\tProperty: key=${key}, value=${value}`);
  console.log(lines.join('\n'));
}

async function quit() {
  if (quitting) return;
  quitting = true;
  process.stdin.destroy();
  await client.close();
  console.log(`${now()}> Done.`);
}

onInputLine(
  (line) => {
    if (line === 'n' && phase === 1) phase = 2;
    if (line === 'q') void quit();
  },
  () => void quit(),
);
process.once('SIGINT', () => void quit());

async function pollAndComplete() {
  console.log(
    `${now()}> Trying to receive C2D messages by polling using the receive() method. Type 'n' and Enter to move to the next phase.`,
  );
  while (phase === 1 && !quitting) {
    // Short waits so typing `n` takes effect soon; the default time-out is one minute.
    const message = await client.receive({ timeoutMs: 1000 });
    if (message === null) continue;
    console.log(`${now()}> Polling using receive() - received message with Id=${message.messageId}`);
    printMessage(message);
    await client.complete(message);
    console.log(`${now()}> Completed C2D message with Id=${message.messageId}.`);
  }
}

function subscribeWithHandler() {
  console.log(
    `${now()}> Subscribing to receive C2D messages through a callback, which will be invoked when a message arrives. Type 'q' and Enter to quit.`,
  );
  client.setMessageHandler(async (message) => {
    console.log(`${now()}> C2D message callback - message received with Id=${message.messageId}.`);
    printMessage(message);
    await client.complete(message);
    console.log(`${now()}> Completed C2D message with Id=${message.messageId}.`);
  });
}

try {
  await client.open();
  console.log(`${now()}> Device waiting for C2D messages from the hub...`);
  console.log(
    `${now()}> Send one with \`npx ferry message send ${client.deviceId} "hello"\` or the send-cloud-to-device sample.`,
  );
  await pollAndComplete();
  if (!quitting) subscribeWithHandler();
} catch (err) {
  console.error(`message-receive-sample: ${err.message}`);
  await client.close();
  process.exitCode = 1;
}
