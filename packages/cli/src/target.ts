/**
 * Which hub `ferry device|message|feedback` talk to, and how it trusts it: --connection-string, else
 * $FERRY_CONNECTION_STRING, else the iothubowner string of the local hub in --data-dir; the CA
 * from --ca, else the data directory's; the port from --port, else the local hub's, else 443.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseHubConnectionString } from '@ferry/common';
import { parseConfig, readHubInfo, readPolicyConnectionString, tlsDir } from '@ferry/hub';
import type { Parsed } from './args.js';
import { str } from './args.js';
import type { HubTarget } from './hub-http.js';
import { CliError, type Io } from './io.js';

/** The flags every command that talks to a running hub takes. */
export const TARGET_OPTIONS = {
  'connection-string': { type: 'string' },
  'data-dir': { type: 'string' },
  ca: { type: 'string' },
  port: { type: 'string' },
} as const;

export async function resolveTarget(values: Parsed['values'], io: Io): Promise<HubTarget> {
  const dataDir = str(values['data-dir']) ?? str(io.env.FERRY_DATA_DIR) ?? './ferry-data';
  let text = str(values['connection-string']) ?? str(io.env.FERRY_CONNECTION_STRING);
  if (text === undefined) {
    if (!existsSync(resolve(dataDir))) {
      throw new CliError(
        `no connection string: pass --connection-string, set FERRY_CONNECTION_STRING, or run from where the hub's data directory (${dataDir}) is, or start one with \`npx ferry hub start\``,
      );
    }
    text = await readPolicyConnectionString({ config: parseConfig({ flags: { dataDir } }), policy: 'iothubowner' });
  }
  const cs = parseHubConnectionString(text);

  const caFlag = str(values.ca);
  let ca: string | undefined;
  if (caFlag !== undefined) {
    if (!existsSync(caFlag)) throw new CliError(`--ca ${caFlag}: no such file`);
    ca = readFileSync(caFlag, 'utf8');
  } else {
    const local = join(tlsDir(dataDir), 'ca.pem');
    if (existsSync(local)) ca = readFileSync(local, 'utf8');
  }

  const portFlag = str(values.port);
  let port = 443;
  if (portFlag !== undefined) {
    if (!/^\d+$/.test(portFlag) || Number(portFlag) < 1 || Number(portFlag) > 65535) {
      throw new CliError(`--port must be a port number from 1 to 65535, got "${portFlag}"`, 2);
    }
    port = Number(portFlag);
  } else {
    const info = existsSync(resolve(dataDir)) ? readHubInfo(dataDir) : undefined;
    const sameHub = info?.hosts.some((h) => h.toLowerCase() === cs.hostName.toLowerCase());
    if (info && sameHub) port = info.ports.https;
  }
  return { cs, ca, port };
}
