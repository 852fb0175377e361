/**
 * A minimal HTTPS client of the hub's REST API for the X.509 commands (certificates, bulk
 * registry): one signed request, the hub's CA trusted, IoT Hub error answers turned into a
 * `CliError` that names the error and what to do. Kept apart from the other commands' clients.
 */
import { request } from 'node:https';
import { createSasToken, type HubConnectionString } from '@ferry/common';
import { CliError } from './io.js';

const API_VERSION = '2021-04-12';

/** Where the hub is: what `resolveTarget` gives (its HTTPS port as `port` or `ports.https`). */
export type RestTarget = { cs: HubConnectionString; ca: string | undefined } & (
  | { port: number }
  | { ports: { https?: number } }
);

export interface RestReply {
  status: number;
  /** The parsed JSON body, or undefined when empty. */
  json: unknown;
}

/** Hints per IoT Hub error name, printed under the hub's answer. */
export type RestHints = Partial<Record<string, string>>;

function httpsPort(t: RestTarget): number {
  return 'port' in t ? t.port : (t.ports.https ?? 443);
}

function token(cs: HubConnectionString): string {
  return createSasToken({
    resourceUri: cs.hostName,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: Math.floor(Date.now() / 1000) + 3600,
    encode: false,
  });
}

/** "the hub answered 404: NotFound: <text>" from `iothub-errorcode` and `{"Message":"ErrorCode:<Name>;<text>"}`. */
function hubError(status: number, errorCode: string | undefined, text: string, hints: RestHints): CliError {
  let name = errorCode;
  let message = text.trim();
  try {
    const m = /^ErrorCode:([^;]+);(.*)$/s.exec(String((JSON.parse(text) as { Message?: unknown }).Message ?? ''));
    if (m) {
      name ??= m[1];
      message = m[2]!.trim();
    }
  } catch {
    // not JSON: shown as it is
  }
  const hint = name ? hints[name] : undefined;
  return new CliError(
    `the hub answered ${status}: ${name ? `${name}: ` : ''}${message || '(no text)'}${hint ? `\n${hint}` : ''}`,
  );
}

/**
 * One request with a policy token. Non-2xx answers throw, except the statuses in `accept` (a
 * bulk call answers 400 with its per-device result).
 */
export function rest(
  target: RestTarget,
  method: string,
  path: string,
  body: unknown,
  opts: { hints?: RestHints; accept?: number[] } = {},
): Promise<RestReply> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.cs.hostName,
        port: httpsPort(target),
        method,
        path: `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`,
        ...(target.ca ? { ca: target.ca } : {}),
        agent: false,
        headers: {
          authorization: token(target.cs),
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if ((status < 200 || status > 299) && !opts.accept?.includes(status)) {
            const code = res.headers['iothub-errorcode'];
            reject(hubError(status, typeof code === 'string' ? code : undefined, text, opts.hints ?? {}));
            return;
          }
          try {
            resolve({ status, json: text ? JSON.parse(text) : undefined });
          } catch {
            reject(new CliError(`the hub answered ${status} with a body that is not JSON`));
          }
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          `request to the hub at ${target.cs.hostName}:${httpsPort(target)} failed: ${err.code ?? ''} ${err.message}`.trim(),
        ),
      ),
    );
    req.end(payload);
  });
}
