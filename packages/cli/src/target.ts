/**
 * Which hub `ferry device|message|feedback` talk to, and how it trusts it: --connection-string, else
 * $FERRY_CONNECTION_STRING, else the iothubowner string of the local hub in --data-dir; the CA
 * from --ca, else the data directory's; the ports from --port (HTTPS), else the local hub's,
 * else the standard ones. @ferry/hub (and its database driver) is loaded only to read a local
 * hub's data directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type HubConnectionString, parseHubConnectionString } from '@ferry/common';
import type { Parsed } from './args.js';
import { str } from './args.js';
import { CliError, type Io } from './io.js';

/** The flags every command that talks to a running hub takes. */
export const TARGET_OPTIONS = {
  'connection-string': { type: 'string' },
  'data-dir': { type: 'string' },
  ca: { type: 'string' },
  port: { type: 'string' },
} as const;

export interface HubTarget {
  connectionString: string;
  cs: HubConnectionString;
  /** PEM text of the CA to trust, when not the system's. */
  ca: string | undefined;
  /** The hub's ports when not the standard ones (a local hub's, or --port for HTTPS). */
  ports: { https?: number; amqps?: number; mqtts?: number };
}

export async function resolveTarget(values: Parsed['values'], io: Io): Promise<HubTarget> {
  const dataDir = str(values['data-dir']) ?? str(io.env.FERRY_DATA_DIR) ?? './ferry-data';
  const local = existsSync(resolve(dataDir));
  let text = str(values['connection-string']) ?? str(io.env.FERRY_CONNECTION_STRING);
  if (text === undefined) {
    if (!local) {
      throw new CliError(
        `no connection string: pass --connection-string, set FERRY_CONNECTION_STRING, or run from where the hub's data directory (${dataDir}) is, or start one with \`npx ferry hub start\``,
      );
    }
    const { parseConfig, readPolicyConnectionString } = await import('@ferry/hub');
    text = await readPolicyConnectionString({ config: parseConfig({ flags: { dataDir } }), policy: 'iothubowner' });
  }
  const cs = parseHubConnectionString(text);

  const caFlag = str(values.ca);
  let ca: string | undefined;
  if (caFlag !== undefined) {
    if (!existsSync(caFlag)) throw new CliError(`--ca ${caFlag}: no such file`);
    ca = readFileSync(caFlag, 'utf8');
  } else {
    const localCa = join(resolve(dataDir), 'tls', 'ca.pem');
    if (existsSync(localCa)) ca = readFileSync(localCa, 'utf8');
  }

  const ports: HubTarget['ports'] = {};
  if (local) {
    const { readHubInfo } = await import('@ferry/hub');
    const info = readHubInfo(dataDir);
    if (info?.hosts.some((h) => h.toLowerCase() === cs.hostName.toLowerCase())) Object.assign(ports, info.ports);
  }
  const portFlag = str(values.port);
  if (portFlag !== undefined) {
    if (!/^\d+$/.test(portFlag) || Number(portFlag) < 1 || Number(portFlag) > 65535) {
      throw new CliError(`--port must be a port number from 1 to 65535, got "${portFlag}"`, 2);
    }
    ports.https = Number(portFlag);
  }
  return { connectionString: text, cs, ca, ports };
}
