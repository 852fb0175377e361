/** `ferry twin show|update-desired|update-tags <id>` and `ferry query "SELECT ..."` (docs/twins.md). */
import type { RegistryClient } from '@ferry/service';
import { parse, str, usageError } from '../args.js';
import { serviceClient } from '../clients.js';
import { explained } from '../hub-errors.js';
import { CliError, type Io } from '../io.js';
import { type HubTarget, resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';

const HINTS = {
  IotHubUnauthorizedAccess:
    'Twins need ServiceConnect (iothubowner or service; registryRead can read them and run queries), or the key is wrong.',
  DeviceNotFound: '`ferry device list` shows the devices.',
};

async function withRegistry<T>(target: HubTarget, op: (r: RegistryClient) => Promise<T>, id?: string): Promise<T> {
  const service = serviceClient(target);
  try {
    return await explained(() => op(service.registry), target, HINTS, id);
  } finally {
    await service.close();
  }
}

/** A JSON object given on the command line. */
function jsonObject(text: string | undefined, what: string): Record<string, unknown> {
  if (text === undefined) throw usageError(`${what} needs a JSON object, e.g. '{"rate": 5}'`, USAGE.twin);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${what}: not valid JSON (${(err as Error).message})`, 2);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CliError(`${what}: must be a JSON object`, 2);
  return v as Record<string, unknown>;
}

export async function twin(action: string | undefined, args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...TARGET_OPTIONS, etag: { type: 'string' } }, USAGE.twin, 2);
  const id = positionals[0];
  if (action === undefined) throw usageError('twin needs a command: show, update-desired or update-tags', USAGE.twin);
  if (!id) throw usageError(`twin ${action} needs a device id`, USAGE.twin);
  const target = await resolveTarget(values, io);
  const etag = str(values.etag) ?? '*';
  let result: unknown;
  switch (action) {
    case 'show':
      result = await withRegistry(target, (r) => r.getTwin(id), id);
      break;
    case 'update-desired': {
      const desired = jsonObject(positionals[1], 'update-desired');
      result = await withRegistry(target, (r) => r.updateTwin(id, { properties: { desired } }, etag), id);
      break;
    }
    case 'update-tags': {
      const tags = jsonObject(positionals[1], 'update-tags');
      result = await withRegistry(target, (r) => r.updateTwin(id, { tags }, etag), id);
      break;
    }
    default:
      throw usageError(`unknown command \`ferry twin ${action}\``, USAGE.twin);
  }
  io.out(JSON.stringify(result, null, 2));
  return 0;
}

export async function query(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...TARGET_OPTIONS, 'page-size': { type: 'string' } }, USAGE.query, 1);
  const sql = positionals[0];
  if (!sql) throw usageError('query needs the query text, e.g. "SELECT * FROM devices"', USAGE.query);
  const pageSize = str(values['page-size']);
  const target = await resolveTarget(values, io);
  const items = await withRegistry(target, async (r) => {
    const all: unknown[] = [];
    for await (const page of r.query(sql, pageSize === undefined ? {} : { pageSize: Number(pageSize) }))
      all.push(...page);
    return all;
  });
  io.out(JSON.stringify(items, null, 2));
  return 0;
}
