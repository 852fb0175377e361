// IoT Hub's SendCloudToDevice with Ferry's service SDK: each Enter sends "Cloud to device
// message." with full delivery acknowledgement, and the feedback batches are printed and
// completed as they come. `q` (or Ctrl+C) quits.
import { ServiceClient } from '@ferry/service';
import { onInputLine, sampleArgs } from './args.mjs';

const USAGE = `Usage: node examples/send-cloud-to-device/index.mjs "<service connection string>" <deviceId> [--transport amqp|amqp-ws] [--ca FILE]
  (or set FERRY_SERVICE_CONNECTION_STRING and give only the device id; the CA defaults to ./ferry-data/tls/ca.pem when there is one)`;

// With the connection string in the environment, the only positional is the device id.
const fromEnv =
  process.env.FERRY_SERVICE_CONNECTION_STRING && process.argv.slice(2).filter((a) => !a.startsWith('-')).length === 1;
if (fromEnv) process.argv.splice(2, 0, process.env.FERRY_SERVICE_CONNECTION_STRING);
const args = sampleArgs(USAGE, 'FERRY_SERVICE_CONNECTION_STRING', 1);
const deviceId = args.rest[0];
const service = ServiceClient.fromConnectionString(args.connectionString, {
  transport: args.transport ?? 'amqp',
  ...(args.ca ? { ca: args.ca } : {}),
});

let quitting = false;
async function quit() {
  if (quitting) return;
  quitting = true;
  process.stdin.destroy();
  await service.close();
}

async function receiveFeedback() {
  console.log('\nReceiving c2d feedback from service');
  for await (const batch of service.feedback()) {
    console.log(`Received feedback: ${batch.records.map((r) => r.statusCode).join(', ')}`);
    await batch.complete();
  }
}

async function sendCloudToDeviceMessage() {
  const { messageId } = await service.send(deviceId, { body: 'Cloud to device message.', ack: 'full' });
  console.log(`Sent message with Id=${messageId}`);
}

console.log('Send Cloud-to-Device message\n');
try {
  await service.open();
  const feedback = receiveFeedback();
  console.log("Press Enter to send a C2D message ('q' and Enter to quit).");
  let sending = Promise.resolve();
  onInputLine(
    (line) => {
      if (line === 'q') {
        void sending.then(quit);
        return;
      }
      sending = sending
        .then(sendCloudToDeviceMessage)
        .catch((err) => console.error(`send-cloud-to-device: ${err.message}`));
    },
    () => {},
  );
  process.once('SIGINT', () => void quit());
  await feedback;
} catch (err) {
  console.error(`send-cloud-to-device: ${err.message}`);
  await quit();
  process.exitCode = 1;
}
