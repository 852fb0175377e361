/** `ferry hub start`: run a hub until SIGTERM or SIGINT, then stop it gracefully and exit 0. */
import { resolve } from 'node:path';
import { Hub, type HubConfig, redactUrl } from '@ferry/hub';
import { num, parse, str } from '../args.js';
import { loadConfig } from '../config.js';
import type { Io } from '../io.js';
import { USAGE } from '../usage.js';

/** The line scripts (and test/compat/harness.ts) wait for. */
export const READY_LINE = 'Ferry hub ready';

const OPTIONS = {
  'data-dir': { type: 'string' },
  host: { type: 'string', multiple: true },
  bind: { type: 'string' },
  config: { type: 'string' },
  'port-https': { type: 'string' },
  'port-mqtts': { type: 'string' },
  'port-amqps': { type: 'string' },
  'log-level': { type: 'string' },
  'store-url': { type: 'string' },
  'store-schema': { type: 'string' },
} as const;

/** An address and port as a URL authority (IPv6 in brackets). */
function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The web console's address as a browser on this machine or a client would type it. */
function consoleUrl(host: string, port: number): string {
  const name = host.includes(':') ? `[${host}]` : host;
  return `https://${name}${port === 443 ? '' : `:${port}`}/console/`;
}

function banner(hub: Hub, config: Readonly<HubConfig>): string {
  const { bind } = config;
  const lines = [
    `Ferry hub "${hub.hubName}" is running.`,
    `  hosts      ${config.hosts.join(', ')}`,
    `  HTTPS      ${bind}:${hub.ports.https}  (registry REST, device HTTP, MQTT and AMQP over WebSocket)`,
    `  MQTT/TLS   ${bind}:${hub.ports.mqtts}`,
    `  AMQP/TLS   ${bind}:${hub.ports.amqps}`,
    ...(config.console.enabled
      ? [`  console    ${consoleUrl(config.hosts[0]!, hub.ports.https)}  (sign in with a connection string below)`]
      : []),
    ...(hub.operations
      ? [`  operations http://${hostPort(hub.operations.address, hub.operations.port)}  (/metrics, /health, /ready)`]
      : []),
    `  data       ${resolve(config.dataDir)}`,
    ...(config.store.kind === 'postgres'
      ? [
          `  store      PostgreSQL ${redactUrl(config.store.url)}, schema ${config.store.schema} (nodes with the same URL and schema serve this hub)`,
        ]
      : []),
    '',
    'iothubowner connection string:',
    `  ${hub.connectionString('iothubowner')}`,
  ];
  if (hub.ports.https !== 443) {
    lines.push(
      `  (the official SDKs always use port 443 for HTTPS and WebSockets; only MQTT and AMQP over TLS accept HostName=host:port)`,
    );
  }
  if (hub.caFile) {
    lines.push(
      '',
      `CA certificate: ${hub.caFile}`,
      '  trust it in service apps (azure-iothub):  NODE_EXTRA_CA_CERTS=<that file> node app.js',
      "  and in device apps (azure-iot-device):    client.setOptions({ ca: fs.readFileSync('<that file>', 'utf8') })",
    );
  }
  lines.push('', `${READY_LINE}. Stop it with Ctrl+C (SIGINT) or SIGTERM.`);
  return lines.join('\n');
}

/**
 * Issue 23: the Azure IoT C SDK (and others built like it) takes the hub name from the HostName up
 * to its first dot and refuses a HostName without one ("iotHubSuffix is not found"). Nothing else
 * would tell the user why such a client cannot even start against `localhost`.
 */
export function dotlessHostWarning(hosts: readonly string[]): string | undefined {
  const dotless = hosts.filter((h) => !h.includes('.'));
  if (dotless.length === 0) return undefined;
  const names = dotless.map((h) => `"${h}"`).join(', ');
  return (
    `ferry: warning: host ${names} has no dot; the Azure IoT C SDK and other clients refuse such a HostName ` +
    '("iotHubSuffix is not found"). For them add a dotted name, e.g. --host hub.ferry.test, and resolve it ' +
    'to this machine (docs/other-stacks.md)'
  );
}

export async function hubStart(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, OPTIONS, USAGE['hub start'], 0);
  const config = loadConfig(values, io.env, {
    dataDir: str(values['data-dir']),
    hosts: values.host,
    bind: str(values.bind),
    ports: { https: num(values['port-https']), mqtts: num(values['port-mqtts']), amqps: num(values['port-amqps']) },
    log: { level: str(values['log-level']) },
    store: { url: str(values['store-url']), schema: str(values['store-schema']) },
  });
  const hub = await Hub.start(config);
  const warning = dotlessHostWarning(config.hosts);
  if (warning) io.err(warning);
  io.out(banner(hub, config));

  return new Promise<number>((resolve) => {
    let firstAt: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (firstAt !== undefined) {
        // Ctrl-C under `npm start` delivers SIGINT twice at once (the terminal signals the whole
        // foreground group, and npm forwards its own copy): only a signal sent well after the
        // first is a user asking again, and only then is the stop cut short.
        if (Date.now() - firstAt < HARD_SIGNAL_AFTER_MS) return;
        io.err(`ferry: ${signal} again; exiting without waiting`);
        process.exit(1);
      }
      firstAt = Date.now();
      hub.logger.info({ signal }, 'stopping on signal');
      io.err(
        `ferry: ${signal}: stopping gracefully (leased messages go back to their queues); send it again after ${HARD_SIGNAL_AFTER_MS / 1000} s to exit at once`,
      );
      hub.stop().then(
        () => {
          io.err('ferry: hub stopped');
          resolve(0);
        },
        (err) => {
          io.err(`ferry: error while stopping: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    watchParent(hub, () => onSignal('SIGHUP'));
  });
}

/** A second signal within this time of the first is the same request (one Ctrl-C through npm), not a "hurry up". */
const HARD_SIGNAL_AFTER_MS = 2000;

const PARENT_POLL_MS = 1000;

/**
 * A hub must never outlive its parent unnoticed. Under `npm start` (npm sets
 * npm_lifecycle_event) the parent is npm: if npm dies without passing a signal on (SIGKILL, a
 * crash), the hub stops too. Started any other way (nohup, a supervisor that double-forks), being
 * re-parented is logged once and the hub keeps serving.
 */
function watchParent(hub: Hub, stop: () => void): void {
  const parent = process.ppid;
  const underNpm = process.env.npm_lifecycle_event !== undefined;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    if (underNpm) {
      hub.logger.warn({ parent }, 'npm, which started this hub, has exited; stopping the hub');
      stop();
    } else {
      hub.logger.warn(
        { parent, pid: process.pid },
        'the process that started this hub has exited; the hub keeps running',
      );
    }
  }, PARENT_POLL_MS);
  timer.unref();
}
