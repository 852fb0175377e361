/**
 * A small client of the hub's registry REST API (what `ferry device` needs), signing each call
 * with a service SAS token and trusting the hub's private CA.
 */
import { request } from 'node:https';
import { createSasToken, type HubConnectionString } from '@ferry/common';
import type { DeviceJson } from '@ferry/hub';
import { CliError } from './io.js';

const API_VERSION = '2021-04-12';
const TOKEN_LIFETIME_S = 3600;

export interface RegistryTarget {
  cs: HubConnectionString;
  /** PEM text of the CA to trust, when not the system's. */
  ca: string | undefined;
  port: number;
}

interface Reply {
  status: number;
  body: string;
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

function networkError(target: RegistryTarget, err: NodeJS.ErrnoException): CliError {
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

/** The hub's error body `{"Message":"ErrorCode:<Name>;<text>"}` as "<Name>: <text>". */
function hubError(reply: Reply): CliError {
  let text = reply.body.trim();
  try {
    const message = (JSON.parse(reply.body) as { Message?: string }).Message;
    const m = /^ErrorCode:([^;]+);(.*)$/s.exec(message ?? '');
    if (m) text = `${m[1]}: ${m[2]}`;
    else if (message) text = message;
  } catch {
    // not JSON: show it as it is
  }
  const hint =
    reply.status === 401
      ? ' (the connection string lacks registry rights or its key is wrong)'
      : text.startsWith('DeviceNotFound')
        ? ' (`npx ferry device list` shows the devices)'
        : '';
  return new CliError(`the hub answered ${reply.status}: ${text || '(no body)'}${hint}`);
}

export class RegistryClient {
  constructor(private readonly target: RegistryTarget) {}

  private call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const { cs, ca, port } = this.target;
    const token = createSasToken({
      resourceUri: cs.hostName,
      key: cs.sharedAccessKey,
      keyName: cs.sharedAccessKeyName,
      expiry: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S,
      encode: false,
    });
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: cs.hostName,
          port,
          method,
          path: `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`,
          ...(ca ? { ca } : {}),
          headers: {
            authorization: token,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => reject(networkError(this.target, err)));
        },
      );
      req.on('error', (err) => reject(networkError(this.target, err)));
      req.end(payload);
    });
  }

  private async json<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const reply = await this.call(method, path, body, headers);
    if (reply.status < 200 || reply.status > 299) throw hubError(reply);
    return (reply.body ? JSON.parse(reply.body) : undefined) as T;
  }

  create(deviceId: string, status: 'enabled' | 'disabled'): Promise<DeviceJson> {
    return this.json('PUT', `/devices/${encodeURIComponent(deviceId)}`, {
      deviceId,
      status,
      authentication: { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } },
    });
  }

  get(deviceId: string): Promise<DeviceJson> {
    return this.json('GET', `/devices/${encodeURIComponent(deviceId)}`);
  }

  list(top?: number): Promise<DeviceJson[]> {
    return this.json('GET', top === undefined ? '/devices/' : `/devices/?top=${top}`);
  }

  async delete(deviceId: string): Promise<void> {
    await this.json('DELETE', `/devices/${encodeURIComponent(deviceId)}`, undefined, { 'if-match': '*' });
  }
}
