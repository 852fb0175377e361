// IoT Hub's quickstart "Control a device" (SimulatedDevice) with Ferry's device SDK: sends a
// telemetry message every second (temperature, humidity, and a temperatureAlert property) and
// answers the direct method SetTelemetryInterval (its payload: seconds) by changing the pace.
// Ctrl+C quits.
import { DeviceClient } from '@ferry/device';
import { sampleArgs } from './args.mjs';

const USAGE = `Usage: node examples/control-a-device/simulated-device.mjs "<device connection string>" [--transport mqtt|mqtt-ws|amqp|amqp-ws] [--ca FILE]
  (or set FERRY_DEVICE_CONNECTION_STRING; the CA defaults to ./ferry-data/tls/ca.pem when there is one)`;

const args = sampleArgs(USAGE, 'FERRY_DEVICE_CONNECTION_STRING', 0);
const client = DeviceClient.fromConnectionString(args.connectionString, {
  transport: args.transport ?? 'mqtt',
  ...(args.ca ? { ca: args.ca } : {}),
});

let intervalMs = 1000;
let timer;
let stopped = false;

async function sendTelemetry() {
  const temperature = 20 + Math.random() * 15;
  const body = JSON.stringify({ temperature, humidity: 60 + Math.random() * 20 });
  try {
    // Resolves once the hub has the message.
    await client.sendEvent({
      body,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      properties: { temperatureAlert: temperature > 30 ? 'true' : 'false' },
    });
    console.log(`Sent message: ${body}`);
  } catch (err) {
    console.error(`Send error: ${err.message}`);
  }
  if (!stopped) timer = setTimeout(sendTelemetry, intervalMs);
}

await client.onMethod('SetTelemetryInterval', (request) => {
  const seconds = Number(request.payload);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    return { status: 400, payload: `Invalid interval: ${JSON.stringify(request.payload)}` };
  }
  console.log(`Direct method SetTelemetryInterval: now every ${seconds} s`);
  intervalMs = seconds * 1000;
  clearTimeout(timer);
  timer = setTimeout(sendTelemetry, intervalMs);
  return { status: 200, payload: `Telemetry interval set: ${seconds}` };
});
console.log('Simulated device connected; sending telemetry (Ctrl+C to stop)');
void sendTelemetry();

async function quit() {
  stopped = true;
  clearTimeout(timer);
  await client.close();
}
process.once('SIGINT', quit);
process.once('SIGTERM', quit);
