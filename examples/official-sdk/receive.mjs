// Device: connect over MQTT, print each cloud-to-device message and complete it; exit after
// `count` messages (default 1). Uses Microsoft's azure-iot-device packages, unchanged.
//
//   DEVICE_CONNECTION_STRING  the device's connection string (`npx ferry device create dev1` prints it)
//   FERRY_CA_FILE             the absolute path of the hub's CA file (`npx ferry hub ca`)
//
//   node receive.mjs [count]
import { existsSync, readFileSync } from 'node:fs';
import deviceSdk from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';

function fail(text) {
  console.error(`receive: ${text}`);
  process.exit(1);
}

const connectionString = process.env.DEVICE_CONNECTION_STRING;
if (!connectionString) {
  fail(
    'set DEVICE_CONNECTION_STRING, e.g. in the Ferry checkout: export DEVICE_CONNECTION_STRING="$(npx ferry device create dev1)"',
  );
}
const caFile = process.env.FERRY_CA_FILE;
if (!caFile || !existsSync(caFile)) {
  fail(
    `FERRY_CA_FILE must be the hub's CA file (now: ${caFile ?? 'unset'}). In the Ferry checkout: export FERRY_CA_FILE="$(npx ferry hub ca)"`,
  );
}
const count = Number(process.argv[2] ?? 1);

const client = deviceSdk.Client.fromConnectionString(connectionString, deviceMqtt.Mqtt);
// setOptions before anything else: adding a `message` listener connects at once.
await client.setOptions({ ca: readFileSync(caFile, 'utf8') });
client.on('error', (err) => fail(`${err.name}: ${err.message}`));
let received = 0;
client.on('message', (msg) => {
  console.log(`received ${msg.messageId ?? '(no id)'}: ${msg.data.toString()}`);
  // Over MQTT the client has already acknowledged (completed) the message; complete() is a no-op here.
  client.complete(msg, () => {
    received += 1;
    if (received >= count) client.close().then(() => process.exit(0));
  });
});
try {
  await client.open();
} catch (err) {
  fail(`cannot connect: ${err.name}: ${err.message} (is the hub running, and is FERRY_CA_FILE its CA?)`);
}
console.log(`connected over MQTT; waiting for ${count} message${count === 1 ? '' : 's'} (Ctrl+C to stop)`);
