/**
 * `ferry hub consumer-group create|list|delete NAME`: consumer groups of the built-in Event
 * Hubs-compatible endpoint (the hub's REST extension /eventHubEndpoints/events/consumerGroups).
 */
import { parse } from '../args.js';
import { CliError, type Io } from '../io.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { type RestHints, rest } from '../x509-rest.js';

export const CONSUMER_GROUP_USAGE = `Usage: ferry hub consumer-group create|list|delete [NAME] [options]

  create NAME   add a consumer group to the Event Hubs-compatible endpoint
  list          print the consumer groups, $Default first
  delete NAME   remove a consumer group ($Default stays)

Options:
  --connection-string CS   a hub connection string with RegistryWrite (RegistryRead to list)
  --data-dir DIR           data directory of a local hub (default ./ferry-data)
  --ca FILE                CA certificate to trust (default: the data directory's CA)
  --port N                 the hub's HTTPS port (default: the local hub's, else 443)`;

const HINTS: RestHints = {
  IotHubUnauthorizedAccess: 'Consumer groups need the iothubowner (or registryReadWrite) policy, or the key is wrong.',
  ArgumentInvalid: 'A name has 1-50 letters, digits, ".", "_" or "-", starting with a letter or digit; $Default stays.',
  Conflict:
    'That group exists already: read with it as it is, or create another name (`npx ferry hub consumer-group list` shows them).',
  NotFound: '`npx ferry hub consumer-group list` shows the consumer groups there are (names are not case-sensitive).',
};

const BASE = '/eventHubEndpoints/events/consumerGroups';

export async function consumerGroup(args: string[], io: Io): Promise<number> {
  const [action, ...rest0] = args;
  const { values, positionals } = parse(rest0, TARGET_OPTIONS, CONSUMER_GROUP_USAGE, 1);
  const name = positionals[0];
  if (action === 'list') {
    const target = await resolveTarget(values, io);
    const reply = await rest(target, 'GET', BASE, undefined, { hints: HINTS });
    for (const g of (reply.json as { value: Array<{ name: string }> }).value) io.out(g.name);
    return 0;
  }
  if (action !== 'create' && action !== 'delete') {
    throw new CliError(`ferry hub consumer-group needs create, list or delete\n\n${CONSUMER_GROUP_USAGE}`, 2);
  }
  if (!name) throw new CliError(`ferry hub consumer-group ${action} needs a NAME\n\n${CONSUMER_GROUP_USAGE}`, 2);
  const target = await resolveTarget(values, io);
  const path = `${BASE}/${encodeURIComponent(name)}`;
  await rest(target, action === 'create' ? 'PUT' : 'DELETE', path, undefined, { hints: HINTS });
  io.out(`consumer group ${name} ${action === 'create' ? 'created' : 'deleted'}`);
  return 0;
}
