/**
 * `ferry monitor-events [--device ID] [--properties] [--timeout S]` (the `az iot hub
 * monitor-events` habit): follows the hub's telemetry live through its Event Hubs-compatible
 * endpoint (@azure/event-hubs, every partition, from now) and prints each event as JSON: the
 * device id, the body and, with --properties, the system and application properties. The hub's
 * CA is trusted through NODE_EXTRA_CA_CERTS, as for the service SDK.
 */
import { EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import { num, parse } from '../args.js';
import { CliError, type Io } from '../io.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';

export const MONITOR_USAGE = `Usage: ferry monitor-events [options]

Follows device-to-cloud telemetry live and prints each event (Ctrl+C stops).

Options:
  --device ID              only this device's events
  --properties             print the system and application properties too
  --consumer-group NAME    the consumer group to read with (default $Default)
  --timeout S              stop after S seconds (default 0: never)
  --connection-string CS   a hub connection string with ServiceConnect
                           (default: $FERRY_CONNECTION_STRING, else iothubowner of --data-dir)
  --data-dir DIR           data directory of a local hub (default ./ferry-data)
  --port N                 the hub's AMQP port (default: the local hub's, else 5671)

The hub's CA must be trusted through NODE_EXTRA_CA_CERTS (\`npx ferry hub ca\` prints its path).`;

const OPTIONS = {
  ...TARGET_OPTIONS,
  device: { type: 'string' },
  properties: { type: 'boolean' },
  'consumer-group': { type: 'string' },
  timeout: { type: 'string' },
} as const;

function payload(body: unknown): unknown {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  return body;
}

function describe(e: ReceivedEventData, withProperties: boolean): Record<string, unknown> {
  const system = e.systemProperties ?? {};
  const event: Record<string, unknown> = { origin: system['iothub-connection-device-id'], payload: payload(e.body) };
  if (withProperties) {
    const sys: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(system)) sys[k] = v instanceof Date ? v.toISOString() : v;
    if (e.messageId !== undefined) sys['message-id'] = e.messageId;
    if (e.contentType !== undefined) sys['content-type'] = e.contentType;
    if (e.correlationId !== undefined) sys['correlation-id'] = e.correlationId;
    sys['x-opt-enqueued-time'] = e.enqueuedTimeUtc.toISOString();
    event.properties = { system: sys, application: e.properties ?? {} };
  }
  return { event };
}

export async function monitorEvents(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, OPTIONS, MONITOR_USAGE, 0);
  const timeout = num(values.timeout) ?? 0;
  if (typeof timeout !== 'number' || !(timeout >= 0))
    throw new CliError(`--timeout must be seconds\n\n${MONITOR_USAGE}`, 2);
  const device = values.device as string | undefined;
  const target = await resolveTarget(values, io);
  const host = target.cs.hostName;
  const cs = `Endpoint=sb://${host}/;SharedAccessKeyName=${target.cs.sharedAccessKeyName};SharedAccessKey=${target.cs.sharedAccessKey};EntityPath=${host}`;
  const port = target.ports.amqps;
  const client = new EventHubConsumerClient(
    (values['consumer-group'] as string | undefined) ?? '$Default',
    cs,
    port && port !== 5671 ? { customEndpointAddress: `amqps://${host}:${port}` } : {},
  );
  const withProperties = values.properties === true;
  let failure: Error | undefined;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const sub = client.subscribe(
    {
      processEvents: async (events) => {
        for (const e of events) {
          if (device !== undefined && e.systemProperties?.['iothub-connection-device-id'] !== device) continue;
          io.out(JSON.stringify(describe(e, withProperties), null, 2));
        }
      },
      processError: async (err) => {
        // Unauthorized or unreachable: say so and stop rather than retry silently for ever.
        const name = (err as { code?: string }).code ?? '';
        if (/Unauthorized|ECONNREFUSED|ENOTFOUND|certificate/i.test(`${name} ${err.message}`)) {
          failure = err;
          stop();
        }
      },
    },
    { startPosition: { enqueuedOn: new Date() }, maxWaitTimeInSeconds: 5 },
  );
  io.err(`Monitoring telemetry${device ? ` from ${device}` : ''} on ${host}; Ctrl+C stops.`);
  const onSignal = () => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = timeout > 0 ? setTimeout(stop, timeout * 1000) : undefined;
  await stopped;
  clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await sub.close().catch(() => {});
  await client.close().catch(() => {});
  if (failure) throw new CliError(`reading the hub's events failed: ${failure.message}`);
  return 0;
}
