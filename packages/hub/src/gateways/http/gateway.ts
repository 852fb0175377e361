/**
 * The HTTPS gateway: registry REST, twins and queries, purge, device C2D, feedback and Ferry's send extension.
 * The TLS listener calls handle() for every request on 443 (WebSocket upgrades go elsewhere).
 * Order per request: route (404/405), api-version (400), Authorization (401/403), handler; except
 * that under IoT Hub's own prefixes (/devices/, /messages/, ...) the Authorization header is
 * checked first (401 before 404/405/400), as IoT Hub does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '@ferry/common';
import type { HubInspector } from '../../console/inspector.js';
import { CONSOLE_PATH, type ConsoleFiles } from '../../console/static-files.js';
import type { GatewayContext } from '../context.js';
import { authenticateRequest, type HttpClientInfo } from './authenticate.js';
import { certificateRoutes } from './certificate-routes.js';
import { consoleRoutes } from './console-routes.js';
import { consumerGroupRoutes } from './consumer-group-routes.js';
import { deadLetterRoutes } from './dead-letter-routes.js';
import { deviceRoutes } from './device-routes.js';
import { sendError } from './errors.js';
import { EventStreams } from './event-stream.js';
import { eventsRoute } from './events-route.js';
import { feedbackRoutes } from './feedback-routes.js';
import { historyRoute } from './history-route.js';
import { jobRoutes } from './job-routes.js';
import { methodRoutes } from './method-routes.js';
import { nodesRoute } from './nodes-route.js';
import { queryValue } from './params.js';
import { refusalLogger } from './refusal-log.js';
import { registryRoutes } from './registry-routes.js';
import { type ConsoleServices, type Route, Router } from './router.js';
import { sendRoute } from './send-route.js';
import { twinRoutes } from './twin-routes.js';

export const HTTP_ROUTES: readonly Route[] = [
  ...registryRoutes,
  ...deviceRoutes,
  ...deadLetterRoutes,
  historyRoute,
  eventsRoute,
  sendRoute,
  ...feedbackRoutes,
  ...certificateRoutes,
  ...twinRoutes,
  ...methodRoutes,
  ...jobRoutes,
  ...consumerGroupRoutes,
  nodesRoute,
];

/** Every REST route a hub with its console serves, as `METHOD /path` (the authorization matrix test's list). */
export function servedRouteNames(): string[] {
  return [...HTTP_ROUTES, ...consoleRoutes].map((r) => `${r.method} ${r.path}`);
}

/** Decision 12: paths under these prefixes authenticate before they route. */
const AUTH_FIRST_PREFIXES = ['devices', 'messages', 'twins', 'statistics', 'certificates', 'configurations', 'jobs'];

function authenticatesFirst(rawPath: string): boolean {
  const first = rawPath.split('/')[1]?.toLowerCase() ?? '';
  return AUTH_FIRST_PREFIXES.includes(first);
}

export interface HttpGateway {
  handle(req: IncomingMessage, res: ServerResponse, client?: HttpClientInfo): void;
  /** Ends the open event streams. */
  close(): Promise<void>;
}

/** The web console's parts; without them /console and Ferry's console endpoints are 404. */
export interface ConsoleParts {
  inspector?: HubInspector;
  files?: ConsoleFiles;
  /** The CA file clients should trust, shown by GET /hubInfo. */
  caFile?: string;
}

export function createHttpGateway(ctx: GatewayContext, parts: ConsoleParts = {}): HttpGateway {
  const streams = new EventStreams();
  const consoleServices: ConsoleServices | undefined = parts.inspector
    ? { inspector: parts.inspector, streams, caFile: parts.caFile }
    : undefined;
  const router = new Router(consoleServices ? [...HTTP_ROUTES, ...consoleRoutes] : HTTP_ROUTES);
  const baseLog = ctx.logger.child({ gateway: 'http' });

  async function serve(req: IncomingMessage, res: ServerResponse, client?: HttpClientInfo): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    let log = baseLog.child({ method: req.method, path: rawPath });
    try {
      if (!rawPath.startsWith('/')) throw new FerryError('NotFound', 'The request path must start with /');
      if (parts.files && (rawPath === CONSOLE_PATH || rawPath.startsWith(`${CONSOLE_PATH}/`))) {
        parts.files.serve(req, res, rawPath);
        return;
      }
      // Issue 23: the API's answers carry keys (GET /hubInfo, the registry's devices), lock tokens
      // and live state; no cache may keep any of them. Errors included, so no route can forget.
      res.setHeader('Cache-Control', 'no-store');
      // Decision 12: under IoT Hub's prefixes the caller is authenticated before the path is
      // routed, so only an authenticated caller learns that a path is not served (404/405).
      const authenticate = () => authenticateRequest(ctx, req, rawPath, client);
      let principal = authenticatesFirst(rawPath) ? await authenticate() : undefined;
      const match = router.match(req.method ?? '', rawPath);
      if (match.kind === 'none') throw new FerryError('NotFound', `No resource at ${rawPath.slice(0, 200)}`);
      if (match.kind === 'wrong-method') {
        sendError(res, new FerryError('MethodNotAllowed', `${req.method} is not allowed here`), log, ctx.clock, {
          Allow: match.allowed.join(', '),
        });
        return;
      }
      const { route, params } = match;
      if (params.id !== undefined) log = log.child({ deviceId: params.id });
      // Spec c2d-semantics.md 7.1: any api-version is accepted, a missing one is refused.
      if (!queryValue(query, 'api-version')) {
        throw new FerryError('InvalidProtocolVersion', 'The api-version query parameter is required');
      }
      principal ??= await authenticate();
      const operation = route.operation(params);
      if (operation) ctx.auth.authorize(principal, operation);
      await route.handle({ ctx, req, res, params, query, principal, log, console: consoleServices });
    } catch (err) {
      sendError(res, err, refusalLogger(ctx, req, rawPath, err, log), ctx.clock);
    }
  }

  return {
    handle(req, res, client) {
      // serve() catches everything it awaits; this catch is for a bug in the error path itself.
      serve(req, res, client).catch((err: unknown) => {
        baseLog.error({ err }, 'unhandled error in the HTTP gateway');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    },
    async close() {
      streams.closeAll();
    },
  };
}
