/**
 * One HTTPS request to the hub, signed and trusting the hub's private CA, and the hub's error
 * answers turned into messages that say what to do next. The registry, service and device
 * clients of the CLI all go through here.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { createSasToken, type HubConnectionString } from '@ferry/common';
import { CliError } from './io.js';

const API_VERSION = '2021-04-12';
const TOKEN_LIFETIME_S = 3600;

export interface HubTarget {
  cs: HubConnectionString;
  /** PEM text of the CA to trust, when not the system's. */
  ca: string | undefined;
  port: number;
}

export interface HubCall {
  method: string;
  /** Path and query without api-version, which is added. */
  path: string;
  authorization: string;
  headers?: Record<string, string | number>;
  body?: Buffer;
}

export interface HubReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What to tell the user per IoT Hub error name, added after the hub's own text. */
export type Hints = Partial<Record<string, string>>;

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

function networkError(target: HubTarget, err: NodeJS.ErrnoException): CliError {
  const where = `${target.cs.hostName}:${target.port}`;
  if (err.code === 'ECONNREFUSED') {
    return new CliError(
      `cannot reach the hub at ${where} (connection refused). Is it running? Start it with \`npx ferry hub start\`.`,
    );
  }
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
    return new CliError(`cannot resolve ${target.cs.hostName}; check HostName in the connection string.`);
  }
  if (err.code && TLS_TRUST_CODES.has(err.code)) {
    return new CliError(
      `the hub's TLS certificate is not trusted (${err.code}); pass --ca <data-dir>/tls/ca.pem (see \`npx ferry hub ca\`).`,
    );
  }
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new CliError(
      `the hub's certificate is not valid for ${target.cs.hostName}; start the hub with --host ${target.cs.hostName}.`,
    );
  }
  return new CliError(`request to the hub at ${where} failed: ${err.code ?? ''} ${err.message}`.trim());
}

function expiry(): number {
  return Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S;
}

/** A shared access policy's token: sr = the raw host name, skn = the policy. */
export function serviceToken(cs: HubConnectionString): string {
  return createSasToken({
    resourceUri: cs.hostName,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: expiry(),
    encode: false,
  });
}

/** A device's own token, as the device SDKs make it: sr = encodeURIComponent(host/devices/id). */
export function deviceToken(hostName: string, deviceId: string, key: string): string {
  return createSasToken({ resourceUri: `${hostName}/devices/${deviceId}`, key, expiry: expiry() });
}

export function devicePath(deviceId: string): string {
  return `/devices/${encodeURIComponent(deviceId)}`;
}

export function callHub(target: HubTarget, call: HubCall): Promise<HubReply> {
  const { cs, ca, port } = target;
  const { body } = call;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: cs.hostName,
        port,
        method: call.method,
        path: `${call.path}${call.path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`,
        ...(ca ? { ca } : {}),
        // A fresh connection per call: a poll loop never races the server closing an idle socket.
        agent: false,
        headers: {
          authorization: call.authorization,
          ...(body ? { 'content-length': body.length } : {}),
          ...call.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', (err) => reject(networkError(target, err)));
      },
    );
    req.on('error', (err) => reject(networkError(target, err)));
    req.end(body);
  });
}

/** The error name and text of an IoT Hub error answer: `iothub-errorcode` and the body's `ErrorCode:<Name>;<text>`. */
export function errorOf(reply: HubReply): { name: string | undefined; text: string } {
  const raw = reply.body.toString('utf8').trim();
  const header = reply.headers['iothub-errorcode'];
  let name = typeof header === 'string' && header ? header : undefined;
  let text = raw;
  try {
    const message = (JSON.parse(raw) as { Message?: unknown }).Message;
    if (typeof message === 'string') {
      const m = /^ErrorCode:([^;]+);(.*)$/s.exec(message);
      name ??= m?.[1];
      text = m ? m[2]!.trim() : message;
    }
  } catch {
    // not JSON: show it as it is
  }
  return { name, text };
}

const DEFAULT_HINTS: Hints = {
  IotHubUnauthorizedAccess: 'The connection string lacks the rights for this, or its key is wrong.',
  IotHubUnauthorized: 'The token has expired; check the clock of this machine.',
};

/** "the hub answered 404: DeviceNotFound: <text>", then what to do about it on the next line. */
export function hubError(reply: HubReply, hints: Hints = {}): CliError {
  const { name, text } = errorOf(reply);
  const what = name ? `${name}: ${text || '(no text)'}` : text || '(no body)';
  const hint = name ? (hints[name] ?? DEFAULT_HINTS[name]) : undefined;
  return new CliError(`the hub answered ${reply.status}: ${what}${hint ? `\n${hint}` : ''}`);
}

/** The reply when it is a success (2xx); the hub's error otherwise. */
export function ok(reply: HubReply, hints?: Hints): HubReply {
  if (reply.status < 200 || reply.status > 299) throw hubError(reply, hints);
  return reply;
}
