/**
 * The options of `ferry message ...` and `ferry feedback`, checked before anything goes to the
 * hub, so a typo costs no request and the error names the flag.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ACK_VALUES, type Ack, suggestClosest } from '@ferry/common';
import type { Settlement } from '@ferry/device';
import { type Parsed, parse, str, usageError as usageLine } from '../args.js';
import { CliError, type Io } from '../io.js';
import { TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { fitsHeader, isHeaderToken } from '../wire-text.js';

export interface SendRequest {
  body: Buffer;
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  ack?: Ack;
  /** ISO 8601, passed to the hub as given (it checks the range). */
  expiry?: string;
  properties: Record<string, string>;
}

export interface SendArgs {
  values: Parsed['values'];
  deviceId: string;
  request: SendRequest;
  /** --wait: how long to wait for the message's own feedback; undefined = do not wait. */
  waitMs: number | undefined;
}

/** `message send --wait` without a number waits this long, as `az iot device c2d-message send --wait` does by default. */
export const DEFAULT_SEND_WAIT_S = 60;

export interface ReceiveArgs {
  values: Parsed['values'];
  deviceId: string;
  settle: Settlement | undefined;
  waitMs: number;
  json: boolean;
}

export const SEND_OPTIONS = {
  ...TARGET_OPTIONS,
  ack: { type: 'string' },
  'message-id': { type: 'string' },
  'correlation-id': { type: 'string' },
  'content-type': { type: 'string' },
  'content-encoding': { type: 'string' },
  expiry: { type: 'string' },
  ttl: { type: 'string' },
  property: { type: 'string', multiple: true },
  'body-file': { type: 'string' },
  wait: { type: 'string' },
  'allow-empty': { type: 'boolean' },
} as const;

const RECEIVE_OPTIONS = {
  ...TARGET_OPTIONS,
  complete: { type: 'boolean' },
  reject: { type: 'boolean' },
  abandon: { type: 'boolean' },
  wait: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function usageError(text: string): CliError {
  return usageLine(text, USAGE.message);
}

export function needDeviceId(positionals: string[], command: string): string {
  const id = positionals[0];
  if (!id) throw usageError(`message ${command} needs a device id`);
  return id;
}

/** `--wait SECONDS` in milliseconds (0 when absent: ask once). */
export function parseWait(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+(\.\d+)?$/.test(value)) throw usageError(`--wait takes seconds, like --wait 30; got "${value}"`);
  return Math.round(Number(value) * 1000);
}

function parseAck(value: string | undefined): Ack | undefined {
  if (value === undefined) return undefined;
  const ack = ACK_VALUES.find((a) => a === value.toLowerCase());
  if (ack) return ack;
  const guess = suggestClosest(value.toLowerCase(), [...ACK_VALUES]);
  throw usageError(
    `--ack must be one of ${ACK_VALUES.join(', ')}; got "${value}"${guess ? ` — did you mean ${guess}?` : ''}`,
  );
}

/** The absolute expiry to send: --expiry as given (checked to be a date), or now + --ttl. */
function parseExpiry(values: Parsed['values'], nowMs: number): string | undefined {
  const expiry = str(values.expiry);
  const ttl = str(values.ttl);
  if (expiry !== undefined && ttl !== undefined) throw usageError('give --expiry or --ttl, not both');
  if (ttl !== undefined) {
    if (!/^\d+$/.test(ttl) || Number(ttl) === 0) throw usageError(`--ttl takes whole seconds above 0; got "${ttl}"`);
    return new Date(nowMs + Number(ttl) * 1000).toISOString();
  }
  if (expiry !== undefined && (!/^\d{4}-\d\d-\d\dT/.test(expiry) || Number.isNaN(Date.parse(expiry)))) {
    throw usageError(`--expiry takes an ISO 8601 date-time like 2030-01-01T00:00:00Z; got "${expiry}"`);
  }
  return expiry;
}

/** `--property key=value`, repeated; names are header names (HTTPS) and arrive lower-case. */
export function parseProperties(
  list: Parsed['values'][string],
  io: Io,
  usage: string = USAGE.message,
): Record<string, string> {
  const usageError = (text: string) => usageLine(text, usage);
  const properties: Record<string, string> = {};
  for (const item of Array.isArray(list) ? list : []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`--property takes key=value; got "${item}"`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (!isHeaderToken(key)) {
      throw usageError(
        `--property ${key}: over HTTPS a property name is a header name (letters, digits, - _ . ! etc.)`,
      );
    }
    if (!fitsHeader(value))
      throw usageError(`--property ${key}: the value cannot contain line breaks or other control characters`);
    if (Object.hasOwn(properties, key.toLowerCase())) throw usageError(`--property ${key} is given twice`);
    if (key !== key.toLowerCase()) {
      io.err(`ferry: note: HTTP lower-cases header names, so property ${key} arrives as ${key.toLowerCase()}`);
    }
    properties[key.toLowerCase()] = value;
  }
  return properties;
}

/** The body: the argument, else --body-file, else standard input when it is not a terminal. */
export async function parseBody(
  positional: string | undefined,
  file: string | undefined,
  allowEmpty: boolean,
  io: Io,
  usage: string = USAGE.message,
): Promise<Buffer> {
  const usageError = (text: string) => usageLine(text, usage);
  if (positional !== undefined && file !== undefined)
    throw usageError('give the body as an argument or with --body-file, not both');
  if (positional !== undefined) return Buffer.from(positional, 'utf8');
  if (file !== undefined) {
    if (!existsSync(file)) throw new CliError(`--body-file ${file}: no such file`);
    return readFileSync(file);
  }
  const piped = await io.readStdin?.();
  if (piped !== undefined && piped.length === 0 && !allowEmpty) {
    // A script that meant to pass a body and passed nothing would send an empty message silently.
    throw usageError(
      'no body: standard input was empty. Give the body as an argument, with --body-file, or on standard input; pass --allow-empty to send an empty message',
    );
  }
  return piped ?? Buffer.alloc(0);
}

/**
 * `--wait` takes an optional number of seconds (as az's does): a bare `--wait` gets the default,
 * so that the next word stays the body or the next flag.
 */
export function withWaitValue(args: readonly string[]): string[] {
  const out = [...args];
  const at = out.indexOf('--wait');
  if (at >= 0 && !/^\d+(\.\d+)?$/.test(out[at + 1] ?? '')) out.splice(at + 1, 0, String(DEFAULT_SEND_WAIT_S));
  return out;
}

export async function parseSendArgs(args: string[], io: Io, nowMs = Date.now()): Promise<SendArgs> {
  const { values, positionals } = parse(withWaitValue(args), SEND_OPTIONS, USAGE.message, 2);
  const deviceId = needDeviceId(positionals, 'send');
  const { request, waitMs } = await parseSendRequest(values, positionals[1], io, nowMs);
  return { values, deviceId, request, waitMs };
}

/** A send's message and --wait from parsed send options (`message send`, `message send-many`, `job create`). */
export async function parseSendRequest(
  values: Parsed['values'],
  body: string | undefined,
  io: Io,
  nowMs = Date.now(),
): Promise<{ request: SendRequest; waitMs: number | undefined }> {
  const waitText = str(values.wait);
  const waitMs = waitText === undefined ? undefined : parseWait(waitText);
  let ack = parseAck(str(values.ack));
  if (waitMs !== undefined) {
    if (ack === 'none') {
      throw usageError(
        "--wait waits for the message's feedback, and --ack none asks for none; leave out --ack (--wait asks for full) or give positive, negative or full",
      );
    }
    ack ??= 'full';
  }
  const text: Record<string, string | undefined> = {
    '--message-id': str(values['message-id']),
    '--correlation-id': str(values['correlation-id']),
    '--content-type': str(values['content-type']),
    '--content-encoding': str(values['content-encoding']),
  };
  for (const [flag, value] of Object.entries(text)) {
    if (value !== undefined && !fitsHeader(value))
      throw usageError(`${flag} cannot contain line breaks or other control characters`);
  }
  const request: SendRequest = {
    body: await parseBody(body, str(values['body-file']), values['allow-empty'] === true, io),
    messageId: text['--message-id'],
    correlationId: text['--correlation-id'],
    contentType: text['--content-type'],
    contentEncoding: text['--content-encoding'],
    ack,
    expiry: parseExpiry(values, nowMs),
    properties: parseProperties(values.property, io),
  };
  return { request, waitMs };
}

export function parseReceiveArgs(args: string[]): ReceiveArgs {
  const { values, positionals } = parse(args, RECEIVE_OPTIONS, USAGE.message, 1);
  const deviceId = needDeviceId(positionals, 'receive');
  const chosen = (['complete', 'reject', 'abandon'] as const).filter((s) => values[s] === true);
  if (chosen.length > 1) throw usageError(`choose one of --complete, --reject, --abandon; got --${chosen.join(' --')}`);
  return { values, deviceId, settle: chosen[0], waitMs: parseWait(str(values.wait)), json: values.json === true };
}

/** `ferry message complete|reject|abandon <deviceId> <lockToken>` */
export function parseSettleArgs(
  how: Settlement,
  args: string[],
): { values: Parsed['values']; deviceId: string; lockToken: string } {
  const { values, positionals } = parse(args, TARGET_OPTIONS, USAGE.message, 2);
  const deviceId = needDeviceId(positionals, how);
  const lockToken = positionals[1];
  if (!lockToken) throw usageError(`message ${how} needs the lock token that \`ferry message receive\` printed`);
  return { values, deviceId, lockToken };
}

export function parsePurgeArgs(args: string[]): { values: Parsed['values']; deviceId: string } {
  const { values, positionals } = parse(args, TARGET_OPTIONS, USAGE.message, 1);
  return { values, deviceId: needDeviceId(positionals, 'purge') };
}
