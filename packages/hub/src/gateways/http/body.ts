/**
 * Request bodies: read up to a limit without ever holding more than the limit, then JSON.
 * Past the limit the rest is drained and dropped (so the 413 answer still reaches a client
 * that is busy writing), up to DRAIN_MAX; beyond that the connection is cut.
 */
import type { IncomingMessage } from 'node:http';
import { FerryError } from '@ferry/common';

const DRAIN_MAX = 1024 * 1024;

function tooLarge(limit: number): FerryError {
  return new FerryError('MessageTooLarge', `The request body is larger than ${limit} bytes`);
}

/** Read and drop what remains of an oversized body; cut the connection if it goes on too long. */
function drain(req: IncomingMessage): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_MAX) req.socket.destroy();
  });
  req.resume();
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      drain(req);
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish(tooLarge(limit));
        drain(req);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    const onError = (err: Error) =>
      finish(new FerryError('GenericBadRequest', 'The request body could not be read', { cause: err }));
    const onClose = () =>
      finish(new FerryError('GenericBadRequest', 'The client closed the request before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export function parseJson(body: Buffer): unknown {
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '')
    throw new FerryError('ArgumentInvalid', 'The request body is empty; a JSON document is required');
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new FerryError('ArgumentInvalid', `The request body is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}
