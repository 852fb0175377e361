/** Command dispatch. Every failure becomes one `ferry: ...` line and an exit code, never a stack trace. */

import { readFileSync } from 'node:fs';
import { isFerryError } from '@ferry/common';
import { HelpRequested, usageError } from './args.js';
import { caCert } from './commands/ca-cert.js';
import { sasToken } from './commands/credentials.js';
import { device } from './commands/device.js';
import { feedback } from './commands/feedback.js';
import { job } from './commands/job.js';
import { message } from './commands/message.js';
import { method } from './commands/method.js';
import { query, twin } from './commands/twin.js';
import { CliError, type Io } from './io.js';
import { USAGE } from './usage.js';

/** This package's version (packages/cli/package.json, one level above dist/). */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [group, action, ...rest] = argv;
  if (group === '--version' || group === 'version') {
    io.out(`ferry ${VERSION} (Node.js ${process.version})`);
    return 0;
  }
  if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
    io.out(USAGE.main);
    return group === undefined ? 2 : 0;
  }
  if (group === 'hub') {
    // Loaded only here: the hub (and its database driver) is not needed to talk to a hub.
    if (action === 'start') return (await import('./commands/hub-start.js')).hubStart(rest, io);
    if (action === 'connection-string')
      return (await import('./commands/hub-scripts.js')).hubConnectionString(rest, io);
    if (action === 'consumer-group') return (await import('./commands/consumer-group.js')).consumerGroup(rest, io);
    if (action === 'ca') return (await import('./commands/hub-scripts.js')).hubCa(rest, io);
    if (action === 'nodes') return (await import('./commands/hub-nodes.js')).hubNodes(rest, io);
    if (action === undefined || action === '--help' || action === '-h') {
      io.out(USAGE.main);
      return action === undefined ? 2 : 0;
    }
    throw usageError(`unknown command \`ferry hub ${action}\``, USAGE.main);
  }
  if (group === 'device') return device(action, rest, io);
  if (group === 'ca-cert') return caCert(action, rest, io);
  if (group === 'message') return message(action, rest, io);
  if (group === 'feedback') return feedback(argv.slice(1), io);
  if (group === 'sas-token') return sasToken(argv.slice(1), io);
  if (group === 'twin') return twin(action, rest, io);
  if (group === 'method') return method(action, rest, io);
  if (group === 'job') return job(action, rest, io);
  if (group === 'monitor-events')
    return (await import('./commands/monitor-events.js')).monitorEvents(argv.slice(1), io);
  if (group === 'query') return query(argv.slice(1), io);
  throw usageError(`unknown command \`ferry ${group}\``, USAGE.main);
}

export async function run(argv: string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.out(err.usage);
      return 0;
    }
    if (err instanceof CliError) {
      io.err(`ferry: ${err.message}`);
      return err.exitCode;
    }
    if (isFerryError(err)) {
      io.err(`ferry: ${err.message}`);
      return 1;
    }
    io.err(`ferry: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
