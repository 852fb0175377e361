/**
 * The IoT Hub error table: one row per error Ferry can raise, and the one place that says how
 * each maps to HTTP, AMQP and MQTT. Codes and names follow troubleshoot-error-codes.md.
 */

export interface ErrorRow {
  /** Six-digit IoT Hub code; its first three digits are the HTTP status. */
  readonly code: number;
  readonly httpStatus: number;
  /** AMQP error condition used when the error is returned on a link or disposition. */
  readonly amqpCondition: string;
  /** MQTT CONNACK return code, when the error happens during CONNECT. */
  readonly connack?: number;
  readonly description: string;
}

export const ERRORS = {
  GenericBadRequest: {
    code: 400000,
    httpStatus: 400,
    amqpCondition: 'amqp:invalid-field',
    description: 'The request is malformed.',
  },
  InvalidProtocolVersion: {
    code: 400001,
    httpStatus: 400,
    amqpCondition: 'amqp:invalid-field',
    description: 'The api-version is missing or invalid.',
  },
  ArgumentInvalid: {
    code: 400004,
    httpStatus: 400,
    amqpCondition: 'com.microsoft:argument-error',
    description: 'An argument is invalid.',
  },
  ArgumentNull: {
    code: 400005,
    httpStatus: 400,
    amqpCondition: 'com.microsoft:argument-error',
    description: 'A required argument is missing.',
  },
  IotHubUnauthorizedAccess: {
    code: 401002,
    httpStatus: 401,
    amqpCondition: 'amqp:unauthorized-access',
    connack: 5,
    description: 'The credential is invalid, expired, or lacks the permission.',
  },
  IotHubUnauthorized: {
    code: 401003,
    httpStatus: 401,
    amqpCondition: 'amqp:unauthorized-access',
    connack: 5,
    description: 'The token has expired.',
  },
  IotHubQuotaExceeded: {
    code: 403002,
    httpStatus: 403,
    amqpCondition: 'com.microsoft:quota-exceeded',
    description: 'The hub quota is exhausted.',
  },
  DeviceMaximumQueueDepthExceeded: {
    code: 403004,
    httpStatus: 403,
    amqpCondition: 'amqp:resource-limit-exceeded',
    description: 'The device queue is full.',
  },
  InvalidMessageExpiryTime: {
    code: 403009,
    httpStatus: 403,
    amqpCondition: 'com.microsoft:argument-error',
    description: 'The message expiry time is invalid.',
  },
  DeviceDisabled: {
    code: 403012,
    httpStatus: 403,
    amqpCondition: 'amqp:unauthorized-access',
    connack: 3,
    description: 'The device is disabled.',
  },
  DeviceNotFound: {
    code: 404001,
    httpStatus: 404,
    amqpCondition: 'amqp:not-found',
    description: 'The device is not registered or is disabled.',
  },
  IotHubNotFound: { code: 404002, httpStatus: 404, amqpCondition: 'amqp:not-found', description: 'No such hub.' },
  NotFound: { code: 404000, httpStatus: 404, amqpCondition: 'amqp:not-found', description: 'No such resource.' },
  DeviceConnectionClosedRemotely: {
    code: 404104,
    httpStatus: 404,
    amqpCondition: 'amqp:connection:forced',
    description: 'The connection was closed by the hub.',
  },
  DeviceNotOnline: {
    code: 404103,
    httpStatus: 404,
    amqpCondition: 'amqp:not-found',
    description: 'The device is not connected (or has not subscribed to direct methods).',
  },
  MethodNotAllowed: {
    code: 405000,
    httpStatus: 405,
    amqpCondition: 'amqp:not-allowed',
    description: 'The method is not allowed on this resource.',
  },
  DeviceAlreadyExists: {
    code: 409001,
    httpStatus: 409,
    amqpCondition: 'com.microsoft:device-already-exists',
    description: 'A device with this id already exists.',
  },
  /** A resource that already exists, as Azure Resource Manager answers it (IoT Hub's consumer groups live there). */
  Conflict: {
    code: 409000,
    httpStatus: 409,
    amqpCondition: 'com.microsoft:entity-already-exists',
    description: 'The resource already exists.',
  },
  LinkCreationConflict: {
    code: 409002,
    httpStatus: 409,
    amqpCondition: 'amqp:link:stolen',
    description: 'Another link or connection replaced this one.',
  },
  PreconditionFailed: {
    code: 412001,
    httpStatus: 412,
    amqpCondition: 'com.microsoft:precondition-failed',
    description: 'The ETag does not match.',
  },
  DeviceMessageLockLost: {
    code: 412002,
    httpStatus: 412,
    amqpCondition: 'com.microsoft:message-lock-lost',
    description: 'The message lock is lost or unknown.',
  },
  MessageTooLarge: {
    code: 413001,
    httpStatus: 413,
    amqpCondition: 'amqp:link:message-size-exceeded',
    description: 'The message is too large.',
  },
  ThrottlingException: {
    code: 429001,
    httpStatus: 429,
    amqpCondition: 'com.microsoft:device-container-throttled',
    description: 'Too many requests.',
  },
  NotImplemented: {
    code: 501000,
    httpStatus: 501,
    amqpCondition: 'amqp:not-implemented',
    description: 'Not implemented by Ferry.',
  },
  ServerError: {
    code: 500001,
    httpStatus: 500,
    amqpCondition: 'amqp:internal-error',
    description: 'Internal server error.',
  },
  ServerBusy: {
    code: 503001,
    httpStatus: 503,
    amqpCondition: 'com.microsoft:server-busy',
    connack: 3,
    description: "The hub's storage is full or failing; retry later.",
  },
  ServiceUnavailable: {
    code: 503000,
    httpStatus: 503,
    amqpCondition: 'com.microsoft:timeout',
    connack: 3,
    description: 'The hub is unavailable or stopping.',
  },
  GatewayTimeout: {
    code: 504101,
    httpStatus: 504,
    amqpCondition: 'com.microsoft:timeout',
    description: 'The device did not answer the direct method in time.',
  },
} as const satisfies Record<string, ErrorRow>;

export type ErrorName = keyof typeof ERRORS;

/** The one error class of Ferry: a stable IoT Hub error name and code, the cause kept. */
/**
 * How the hub's InvalidMessageExpiryTime text begins. Over AMQP that error shares its condition
 * (com.microsoft:argument-error) with ArgumentInvalid, so Ferry's clients tell it by this text.
 */
export const INVALID_EXPIRY_TEXT = 'the expiry must be in the future';

export class FerryError extends Error {
  readonly errorName: ErrorName;
  readonly code: number;
  readonly httpStatus: number;
  readonly amqpCondition: string;
  readonly connack: number | undefined;

  constructor(name: ErrorName, message?: string, options?: { cause?: unknown }) {
    const row: ErrorRow = ERRORS[name];
    super(message ?? row.description, options);
    this.name = 'FerryError';
    this.errorName = name;
    this.code = row.code;
    this.httpStatus = row.httpStatus;
    this.amqpCondition = row.amqpCondition;
    this.connack = row.connack;
  }
}

export function isFerryError(err: unknown, name?: ErrorName): err is FerryError {
  return err instanceof FerryError && (name === undefined || err.errorName === name);
}

/** Turns anything thrown into a FerryError; unknown failures become ServerError with the cause kept. */
export function toFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  return new FerryError('ServerError', undefined, { cause: err });
}
