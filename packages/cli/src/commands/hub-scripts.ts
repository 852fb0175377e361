/** `ferry hub connection-string` and `ferry hub ca`: one line on stdout, for scripts. */
import { parseHubConnectionString } from '@ferry/common';
import { ensureCa, hubNameOf, readPolicyConnectionString } from '@ferry/hub';
import { parse, str } from '../args.js';
import { loadConfig } from '../config.js';
import type { Io } from '../io.js';
import { USAGE } from '../usage.js';

export async function hubConnectionString(args: string[], io: Io): Promise<number> {
  const { values } = parse(
    args,
    {
      'data-dir': { type: 'string' },
      policy: { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      'event-hubs': { type: 'boolean' },
    },
    USAGE['hub connection-string'],
    0,
  );
  const config = loadConfig(values, io.env, { dataDir: str(values['data-dir']) });
  const host = str(values.host);
  const cs = await readPolicyConnectionString({
    config,
    policy: str(values.policy) ?? 'iothubowner',
    ...(host ? { host } : {}),
  });
  io.out(values['event-hubs'] === true ? eventHubsConnectionString(cs) : cs);
  return 0;
}

/** The same policy as the built-in endpoint's connection string, for @azure/event-hubs (docs/telemetry.md). */
export function eventHubsConnectionString(hubConnectionString: string): string {
  const cs = parseHubConnectionString(hubConnectionString);
  const entity = hubNameOf(cs.hostName);
  return `Endpoint=sb://${cs.hostName}/;SharedAccessKeyName=${cs.sharedAccessKeyName};SharedAccessKey=${cs.sharedAccessKey};EntityPath=${entity}`;
}

export async function hubCa(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { 'data-dir': { type: 'string' } }, USAGE['hub ca'], 0);
  const dataDir = str(values['data-dir']) ?? str(io.env.FERRY_DATA_DIR) ?? './ferry-data';
  io.out(ensureCa(dataDir).caFile);
  return 0;
}
