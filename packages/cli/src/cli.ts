/** Command dispatch. Every failure becomes one `ferry: ...` line and an exit code, never a stack trace. */
import { isFerryError } from '@ferry/common';
import { HelpRequested } from './args.js';
import { caCert } from './commands/ca-cert.js';
import { device } from './commands/device.js';
import { feedback } from './commands/feedback.js';
import { hubCa, hubConnectionString } from './commands/hub-scripts.js';
import { hubStart } from './commands/hub-start.js';
import { message } from './commands/message.js';
import { CliError, type Io } from './io.js';
import { USAGE } from './usage.js';

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [group, action, ...rest] = argv;
  if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
    io.out(USAGE.main);
    return group === undefined ? 2 : 0;
  }
  if (group === 'hub') {
    if (action === 'start') return hubStart(rest, io);
    if (action === 'connection-string') return hubConnectionString(rest, io);
    if (action === 'ca') return hubCa(rest, io);
    if (action === undefined || action === '--help' || action === '-h') {
      io.out(USAGE.main);
      return action === undefined ? 2 : 0;
    }
    throw new CliError(`unknown command \`ferry hub ${action}\`\n\n${USAGE.main}`, 2);
  }
  if (group === 'device') return device(action, rest, io);
  if (group === 'ca-cert') return caCert(action, rest, io);
  if (group === 'message') return message(action, rest, io);
  if (group === 'feedback') return feedback(argv.slice(1), io);
  throw new CliError(`unknown command \`ferry ${group}\`\n\n${USAGE.main}`, 2);
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
