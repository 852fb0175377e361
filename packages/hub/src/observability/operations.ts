/**
 * The operations endpoint's requests, as a plain (req, res) handler: the socket is the
 * listeners' business (listeners/operations.ts). Nothing here touches the store, so a scrape
 * costs the same however many messages are queued.
 *   GET /metrics  Prometheus text exposition
 *   GET /health   200 while the process runs (liveness)
 *   GET /ready    200 from a finished start until stop begins, else 503 (readiness); 503 too
 *                 while the store fails (disk full, I/O errors) or cannot commit (a failed
 *                 commit, or one overdue: store/commit-watch.ts, the only call that may reach
 *                 the store, and only as a trivial probe of an idle node)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubMetrics } from './metrics.js';

export interface OperationsOptions {
  metrics: HubMetrics;
  isReady(): boolean;
  /** Whether a not-ready hub is on its way down (503 "stopping") rather than up ("starting"). */
  isStopping?(): boolean;
  /** The store fails (disk full, I/O errors): not ready, with that reason. */
  storageFailing?(): boolean;
  /** Why the store cannot commit now (failed or overdue commits), or undefined when it can. */
  storageUnavailable?(): string | undefined;
}

export type OperationsHandler = (req: IncomingMessage, res: ServerResponse) => void;

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The /ready answer: its status code and body. */
function readiness(opts: OperationsOptions): [number, object] {
  if (!opts.isReady()) return [503, { status: opts.isStopping?.() ? 'stopping' : 'starting' }];
  if (opts.storageFailing?.()) return [503, { status: 'storage failing' }];
  const reason = opts.storageUnavailable?.();
  if (reason !== undefined) return [503, { status: 'storage unavailable', reason }];
  return [200, { status: 'ready' }];
}

export function operationsHandler(opts: OperationsOptions): OperationsHandler {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const known = path === '/metrics' || path === '/health' || path === '/ready';
      res.writeHead(known ? 405 : 404, known ? { allow: 'GET, HEAD' } : {});
      res.end();
      return;
    }
    switch (path) {
      case '/metrics':
        opts.metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': opts.metrics.registry.contentType, 'cache-control': 'no-store' });
            res.end(text);
          },
          (err: Error) => json(res, 500, { status: 'error', message: err.message }),
        );
        return;
      case '/health':
        return json(res, 200, { status: 'ok' });
      case '/ready':
        return json(res, ...readiness(opts));
      default:
        return json(res, 404, { status: 'not found', endpoints: ['/metrics', '/health', '/ready'] });
    }
  };
}
