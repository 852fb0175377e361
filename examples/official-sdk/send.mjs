// Back end: send one cloud-to-device message with full feedback, wait for the hub's feedback
// on it, print it and exit. Uses Microsoft's azure-iothub package, unchanged.
//
//   FERRY_CONNECTION_STRING   a policy connection string with ServiceConnect (`npx ferry hub connection-string --policy service`)
//   NODE_EXTRA_CA_CERTS       the absolute path of the hub's CA file (`npx ferry hub ca`); the service SDK has no `ca` option
//
//   node send.mjs [deviceId] [text]
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import common from 'azure-iot-common';
import iothub from 'azure-iothub';

const FEEDBACK_TIMEOUT_S = Number(process.env.FEEDBACK_TIMEOUT_S ?? 120);

function fail(text) {
  console.error(`send: ${text}`);
  process.exit(1);
}

function within(promise, seconds, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`no answer after ${seconds} s while ${what}`)), seconds * 1000).unref(),
    ),
  ]);
}

const connectionString = process.env.FERRY_CONNECTION_STRING;
if (!connectionString) {
  fail(
    'set FERRY_CONNECTION_STRING for this command, e.g. in the Ferry checkout: FERRY_CONNECTION_STRING="$(ferry hub connection-string --policy service)" node send.mjs ... (not exported: ferry would use it too, and the service policy cannot create devices)',
  );
}
const ca = process.env.NODE_EXTRA_CA_CERTS;
if (!ca || !isAbsolute(ca) || !existsSync(ca)) {
  fail(
    `NODE_EXTRA_CA_CERTS must be the absolute path of the hub's CA file (now: ${ca ?? 'unset'}). ` +
      'In the Ferry checkout: export NODE_EXTRA_CA_CERTS="$(npx ferry hub ca)", then run this again.',
  );
}
const deviceId = process.argv[2] ?? 'dev1';
const text = process.argv[3] ?? '{"cmd":"reboot"}';

const client = iothub.Client.fromConnectionString(connectionString);
try {
  await within(client.open(), 30, 'connecting to the hub (is it running, and is NODE_EXTRA_CA_CERTS its CA?)');
  const { result: receiver } = await client.getFeedbackReceiver();
  const message = new common.Message(text);
  message.messageId = `example-${Date.now()}`;
  message.ack = 'full';
  const feedback = new Promise((resolve) => {
    receiver.on('message', (batch) => {
      const record = JSON.parse(batch.data.toString()).find((r) => r.originalMessageId === message.messageId);
      if (record) resolve(record);
    });
  });
  await within(client.send(deviceId, message), 30, 'sending');
  console.log(
    `sent ${message.messageId} to ${deviceId}; waiting for its feedback (batched: up to 15 s after the device settles it)`,
  );
  const record = await within(feedback, FEEDBACK_TIMEOUT_S, 'waiting for feedback (is the device receiving?)');
  console.log(`feedback: ${record.originalMessageId} ${record.deviceId} ${record.statusCode}`);
} catch (err) {
  fail(`${err.name ?? 'Error'}: ${err.message}`);
} finally {
  await client.close().catch(() => {});
}
process.exit(0);
