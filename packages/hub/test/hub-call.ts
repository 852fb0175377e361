/** One HTTPS call to an in-process Hub (its CA trusted), signed with one of its policies. */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createSasToken, parseHubConnectionString } from '@ferry/common';
import type { Hub } from '../src/hub.js';
import { WAIT_MS } from './deadline.js';

export function hubCall(
  hub: Hub,
  method: string,
  path: string,
  opts: { policy?: string; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const cs = parseHubConnectionString(hub.connectionString(opts.policy ?? 'iothubowner'));
  const authorization = createSasToken({
    resourceUri: cs.hostName,
    encode: false,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: Math.ceil(Date.now() / 1000) + 600,
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: cs.hostName,
        port: hub.ports.https,
        method,
        path: `${path}?api-version=2021-04-12`,
        ca: readFileSync(hub.caFile!, 'utf8'),
        agent: false,
        headers: { authorization, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.setTimeout(WAIT_MS, () => req.destroy(new Error(`${method} ${path}: no answer within ${WAIT_MS} ms`)));
    req.end(opts.body);
  });
}
