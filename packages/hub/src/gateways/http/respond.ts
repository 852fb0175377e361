/** Success answers. Errors go through errors.ts. */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...headers, 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendNoContent(res: ServerResponse, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(204, headers);
  res.end();
}

export function sendBody(res: ServerResponse, status: number, body: Buffer, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, { ...headers, 'Content-Length': body.length });
  res.end(body);
}
