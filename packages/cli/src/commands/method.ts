/**
 * `ferry method invoke <id> <name>` (az iot hub invoke-device-method): calls a direct method on a
 * connected device and prints its status and payload, saying while it waits how long is left.
 */
import { parse, str, usageError } from '../args.js';
import { serviceClient } from '../clients.js';
import { explained } from '../hub-errors.js';
import { CliError, type Io } from '../io.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { shellArg } from '../wire-text.js';

const OPTIONS = {
  ...TARGET_OPTIONS,
  payload: { type: 'string' },
  timeout: { type: 'string' },
  'connect-timeout': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** How often a long wait says it is still waiting. */
const NOTE_EVERY_MS = 5000;

/** JSON given on the command line (a flag's value). */
export function jsonArg(text: string | undefined, flag: string, usage: string): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`${flag} takes JSON, like ${flag} '{"delay": 5}'; ${(err as Error).message}`, usage);
  }
}

function seconds(text: string | undefined, flag: string, min: number, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 300) {
    throw usageError(`${flag} takes whole seconds from ${min} to 300; got "${text}"`, USAGE.method);
  }
  return Number(text);
}

export async function method(action: string | undefined, args: string[], io: Io): Promise<number> {
  if (action === undefined || action === '--help' || action === '-h') {
    io.out(USAGE.method);
    return action === undefined ? 2 : 0;
  }
  if (action !== 'invoke') throw usageError(`unknown command \`ferry method ${action}\``, USAGE.method);
  const { values, positionals } = parse(args, OPTIONS, USAGE.method, 2);
  const [deviceId, methodName] = positionals;
  if (!deviceId || !methodName) throw usageError('method invoke needs a device id and a method name', USAGE.method);
  const payload = jsonArg(str(values.payload), '--payload', USAGE.method);
  const timeout = seconds(str(values.timeout), '--timeout', 5, 30);
  const connectTimeout = seconds(str(values['connect-timeout']), '--connect-timeout', 0, 0);
  const target = await resolveTarget(values, io);
  const id = shellArg(deviceId);

  const deadline = Date.now() + (timeout + connectTimeout) * 1000;
  const waiting = connectTimeout > 0 ? `for ${deviceId} to connect and answer` : `for ${deviceId} to answer`;
  io.err(`Calling ${methodName} on ${deviceId}; waiting up to ${timeout + connectTimeout} s ${waiting}...`);
  const note = setInterval(() => {
    io.err(`Still waiting ${waiting} (${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left)...`);
  }, NOTE_EVERY_MS);
  note.unref();
  const service = serviceClient(target);
  try {
    const result = await explained(
      () =>
        service.invokeMethod(deviceId, {
          methodName,
          payload,
          responseTimeoutInSeconds: timeout,
          connectTimeoutInSeconds: connectTimeout,
        }),
      target,
      {
        DeviceNotOnline: `Device ${deviceId} is not connected, or its connection does not take direct methods. Connect it (\`npx ferry device receive ${id} --method-status 200\` answers every method), or give --connect-timeout SECONDS to wait for it.`,
        GatewayTimeout: `The device took the call but did not answer within ${timeout} s: give a longer --timeout (up to 300), or check its handler of ${methodName}.`,
        IotHubUnauthorizedAccess:
          'Direct methods need ServiceConnect: use the iothubowner or service connection string, or check its key.',
        MessageTooLarge: 'The payload may be 128 KB at most.',
      },
      deviceId,
    );
    if (values.json === true) io.out(JSON.stringify(result));
    else io.out(`Status: ${result.status}\nPayload: ${JSON.stringify(result.payload, null, 2)}`);
    if (result.status < 200 || result.status > 299) {
      throw new CliError(`the device answered ${methodName} with status ${result.status}`);
    }
    return 0;
  } finally {
    clearInterval(note);
    await service.close();
  }
}
