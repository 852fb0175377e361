/**
 * The SDKs' FerryErrors as one `ferry: ...` line the user can act on: the IoT Hub error name and
 * code, the hub's text, and on the next line what to do about it (per command, else a default).
 */
import { type ErrorName, type FerryError, isFerryError } from '@ferry/common';
import { CliError } from './io.js';
import type { HubTarget } from './target.js';
import { shellArg } from './wire-text.js';

/** What to tell the user per IoT Hub error name. */
export type Hints = Partial<Record<ErrorName, string>>;

const DEFAULT_HINTS: Hints = {
  IotHubUnauthorizedAccess: 'The connection string lacks the rights for this, or its key is wrong.',
  IotHubUnauthorized: 'The token has expired; check the clock of this machine.',
};

/** The same words for an unknown device whichever command met it (the hub's text differs per protocol). */
export function deviceHints(deviceId: string): Hints {
  const id = shellArg(deviceId);
  return {
    DeviceNotFound: `Create it with \`npx ferry device create ${id}\` (\`npx ferry device list\` shows the devices; a disabled device takes no messages).`,
  };
}

function causeCode(err: FerryError): string | undefined {
  let cause: unknown = err.cause;
  while (cause && typeof cause === 'object') {
    const code = (cause as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

export function hubError(err: FerryError, target: HubTarget, hints: Hints = {}, deviceId?: string): CliError {
  const host = target.cs.hostName;
  const code = causeCode(err);
  if (code === 'ECONNREFUSED') {
    return new CliError(
      `cannot reach the hub at ${host} (connection refused). Is it running? Start it with \`npx ferry hub start\`.`,
    );
  }
  if (err.errorName === 'IotHubNotFound' && code === 'ENOTFOUND') {
    return new CliError(`cannot resolve ${host}; check HostName in the connection string.`);
  }
  if (/not trusted/.test(err.message)) {
    return new CliError(
      `the hub's TLS certificate is not trusted; pass --ca <data-dir>/tls/ca.pem (see \`npx ferry hub ca\`).`,
    );
  }
  const text =
    err.errorName === 'DeviceNotFound' && deviceId !== undefined
      ? `device ${deviceId} is not registered, or is disabled`
      : err.message;
  const hint = hints[err.errorName] ?? DEFAULT_HINTS[err.errorName];
  return new CliError(`${err.errorName} (${err.code}): ${text}${hint ? `\n${hint}` : ''}`);
}

/** Runs `op`; a FerryError from it becomes the CliError that explains it. */
export async function explained<T>(
  op: () => Promise<T>,
  target: HubTarget,
  hints: Hints = {},
  deviceId?: string,
): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isFerryError(err))
      throw hubError(err, target, { ...(deviceId ? deviceHints(deviceId) : {}), ...hints }, deviceId);
    throw err;
  }
}
