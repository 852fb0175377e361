/**
 * How the SDKs classify failures: every error they raise is a FerryError with IoT Hub's error
 * name and code. Transient ones (the hub unreachable or busy) are retried by the retry policy;
 * permanent ones (unknown device, wrong key, queue full, too large, bad argument) are raised at once.
 */
import { ERRORS, type ErrorName, FerryError, INVALID_EXPIRY_TEXT } from '../errors.js';

const TRANSIENT: ReadonlySet<ErrorName> = new Set<ErrorName>([
  'ServiceUnavailable',
  'ServerBusy',
  'ThrottlingException',
  'ServerError',
  'DeviceConnectionClosedRemotely',
]);

/** True when retrying may help: the error is a FerryError of a transient kind. */
export function isTransient(err: unknown): boolean {
  return err instanceof FerryError && TRANSIENT.has(err.errorName);
}

/** A network failure (refused, reset, timed out, closed) as the transient ServiceUnavailable, the cause kept. */
export function connectionLost(where: string, cause?: unknown): FerryError {
  const detail = cause instanceof Error ? `: ${(cause as NodeJS.ErrnoException).code ?? cause.message}` : '';
  return new FerryError('ServiceUnavailable', `Lost or could not open the connection to ${where}${detail}`, { cause });
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

/** A socket error as a FerryError: TLS trust failures are permanent (retrying will not help), the rest transient. */
export function socketError(where: string, err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  // rhea over ws hands on ws's ErrorEvent, which carries the socket's error inside.
  const inner = (err as { error?: unknown } | undefined)?.error;
  if (!(err instanceof Error) && inner instanceof Error) err = inner;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && TLS_TRUST_CODES.has(code)) {
    return new FerryError(
      'IotHubUnauthorizedAccess',
      `The TLS certificate of ${where} is not trusted (${code}); pass the hub's CA in the \`ca\` option`,
      { cause: err },
    );
  }
  if (code === 'ENOTFOUND') {
    return new FerryError('IotHubNotFound', `Cannot resolve ${where}; check HostName in the connection string`, {
      cause: err,
    });
  }
  return connectionLost(where, err);
}

const BY_NAME = new Map<string, ErrorName>(Object.keys(ERRORS).map((n) => [n.toLowerCase(), n as ErrorName]));

/** An IoT Hub error name as sent (`DeviceNotFound`, `IotHubUnauthorizedAccess`, ...) when Ferry knows it. */
export function errorNameOf(text: string | undefined): ErrorName | undefined {
  return text === undefined ? undefined : BY_NAME.get(text.toLowerCase());
}

const BY_STATUS: Record<number, ErrorName> = {
  400: 'ArgumentInvalid',
  401: 'IotHubUnauthorizedAccess',
  403: 'IotHubQuotaExceeded',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'DeviceAlreadyExists',
  412: 'PreconditionFailed',
  413: 'MessageTooLarge',
  429: 'ThrottlingException',
  500: 'ServerError',
  501: 'NotImplemented',
  503: 'ServiceUnavailable',
};

/** An HTTP error answer: the name from `iothub-errorcode` or the body's `ErrorCode:<Name>;<text>`, else from the status. */
export function errorFromHttp(status: number, errorCodeHeader: string | undefined, body: Buffer): FerryError {
  const raw = body.toString('utf8').trim();
  let name = errorNameOf(errorCodeHeader);
  let text = raw;
  try {
    const message = (JSON.parse(raw) as { Message?: unknown }).Message;
    if (typeof message === 'string') {
      const m = /^ErrorCode:([^;]+);(.*)$/s.exec(message);
      name ??= errorNameOf(m?.[1]);
      text = m ? m[2]!.trim() : message;
    }
  } catch {
    // Not JSON: the raw text is the message.
  }
  const fallback = BY_STATUS[status] ?? (status >= 500 ? 'ServerError' : 'GenericBadRequest');
  return new FerryError(name ?? fallback, text || `The hub answered ${status}`);
}

const BY_CONDITION: Record<string, ErrorName> = {
  'amqp:not-found': 'DeviceNotFound',
  'amqp:unauthorized-access': 'IotHubUnauthorizedAccess',
  'amqp:resource-limit-exceeded': 'DeviceMaximumQueueDepthExceeded',
  'amqp:link:message-size-exceeded': 'MessageTooLarge',
  'com.microsoft:message-lock-lost': 'DeviceMessageLockLost',
  'com.microsoft:device-container-throttled': 'ThrottlingException',
  'com.microsoft:quota-exceeded': 'IotHubQuotaExceeded',
  'com.microsoft:argument-error': 'ArgumentInvalid',
  'com.microsoft:timeout': 'ServiceUnavailable',
  'com.microsoft:server-busy': 'ServerBusy',
  'com.microsoft:device-already-exists': 'DeviceAlreadyExists',
  'com.microsoft:entity-already-exists': 'Conflict',
  'amqp:internal-error': 'ServerError',
  'amqp:not-implemented': 'NotImplemented',
  'amqp:not-allowed': 'MethodNotAllowed',
  'amqp:invalid-field': 'ArgumentInvalid',
  'amqp:link:detach-forced': 'ServiceUnavailable',
  'amqp:connection:forced': 'DeviceConnectionClosedRemotely',
  'amqp:link:stolen': 'LinkCreationConflict',
};

/** An AMQP error (condition + description) as a FerryError, per official-sdk-wire.md B's table. */
export function errorFromAmqp(error: { condition?: unknown; description?: unknown } | undefined): FerryError {
  const condition = typeof error?.condition === 'string' ? error.condition : 'amqp:internal-error';
  const description = typeof error?.description === 'string' ? error.description : undefined;
  // Two errors share com.microsoft:argument-error; the hub's text tells an expiry error apart.
  if (condition === 'com.microsoft:argument-error' && description?.startsWith(INVALID_EXPIRY_TEXT)) {
    return new FerryError('InvalidMessageExpiryTime', description);
  }
  let name = BY_CONDITION[condition] ?? 'ServerError';
  // A queue-full answer says so; a connection cap or idle time-out is a transient busy hub.
  if (name === 'DeviceMaximumQueueDepthExceeded' && description && !/queue/i.test(description)) {
    name = 'ServiceUnavailable';
  }
  if (name === 'IotHubUnauthorizedAccess' && description && /disabled/i.test(description)) name = 'DeviceDisabled';
  return new FerryError(name, description ?? `${condition}`);
}

const BY_CODE = new Map<number, ErrorName>(Object.entries(ERRORS).map(([n, row]) => [row.code, n as ErrorName]));

/**
 * A refused twin request as the hub answers it on MQTT and AMQP: status and a body
 * `{"errorCode": 400004, "message": "..."}`; the name from the code when Ferry knows it, else from the status.
 */
export function errorFromStatusBody(status: number, body: Buffer): FerryError {
  let code: unknown;
  let message: unknown;
  try {
    ({ errorCode: code, message } = JSON.parse(body.toString('utf8')) as { errorCode?: unknown; message?: unknown });
  } catch {
    // Not JSON: the status alone names it.
  }
  const name =
    (typeof code === 'number' ? BY_CODE.get(code) : undefined) ??
    BY_STATUS[status] ??
    (status >= 500 ? 'ServerError' : 'GenericBadRequest');
  return new FerryError(name, typeof message === 'string' ? message : `The hub answered ${status}`);
}
