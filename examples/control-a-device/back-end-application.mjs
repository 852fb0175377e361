// IoT Hub's quickstart "Control a device" (BackEndApplication) with Ferry's service SDK: calls the
// direct method SetTelemetryInterval on the device, prints its answer, then prints the device's
// telemetry as it arrives, read from the hub's built-in endpoint. Ctrl+C quits.
import { ServiceClient } from '@ferry/service';
import { sampleArgs } from './args.mjs';

const USAGE = `Usage: node examples/control-a-device/back-end-application.mjs "<service connection string>" <deviceId> [seconds] [--ca FILE]
  (or set FERRY_SERVICE_CONNECTION_STRING and give only the device id; seconds defaults to 10)`;

// With the connection string in the environment, the first argument is the device id.
const first = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (process.env.FERRY_SERVICE_CONNECTION_STRING && first !== undefined && !first.includes('HostName=')) {
  process.argv.splice(2, 0, process.env.FERRY_SERVICE_CONNECTION_STRING);
}
const args = sampleArgs(USAGE, 'FERRY_SERVICE_CONNECTION_STRING', 1);
const [deviceId, seconds = '10'] = args.rest;
const service = ServiceClient.fromConnectionString(args.connectionString, args.ca ? { ca: args.ca } : {});

try {
  const result = await service.invokeMethod(deviceId, {
    methodName: 'SetTelemetryInterval',
    payload: Number(seconds),
    responseTimeoutInSeconds: 30,
  });
  console.log(`Response from SetTelemetryInterval on ${deviceId}: ${JSON.stringify(result)}`);
} catch (err) {
  // DeviceNotOnline (404103): the device is not connected; GatewayTimeout (504101): it did not answer.
  console.error(`Failed to invoke method: ${err.errorName ?? ''} ${err.message}`);
  await service.close();
  process.exit(1);
}

process.once('SIGINT', () => void service.close());
console.log('Reading telemetry (Ctrl+C to stop)...');
for await (const event of service.readEvents({ from: 'latest' })) {
  if (event.deviceId !== deviceId) continue;
  console.log(`Telemetry from ${deviceId}: ${event.body.toString('utf8')} ${JSON.stringify(event.properties)}`);
}
