/**
 * A small route table: `METHOD /literal/{param}/...` patterns. Literal segments match
 * case-insensitively (the SDKs write both deviceBound and devicebound, serviceBound and
 * servicebound); params are URL-decoded after the path is split, so an encoded `/` (%2F) stays
 * inside its segment.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { Operation, Principal } from '../../auth/types.js';
import type { HubInspector } from '../../console/inspector.js';
import type { GatewayContext } from '../context.js';
import type { EventStreams } from './event-stream.js';

export type Method = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** What the console's routes use beside the gateway context; a hub without a console has none. */
export interface ConsoleServices {
  inspector: HubInspector;
  streams: EventStreams;
  /** The CA file clients should trust, shown by GET /hubInfo. */
  caFile?: string;
}

/** What a handler is given once the route matched and the caller is authorized. */
export interface RouteCall {
  ctx: GatewayContext;
  req: IncomingMessage;
  res: ServerResponse;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  principal: Principal;
  log: Logger;
  /** Present when the hub serves its console (the console routes are only routed then). */
  console?: ConsoleServices;
}

export interface Route {
  method: Method;
  /** e.g. '/devices/{id}/messages/deviceBound/{lockToken}' */
  path: string;
  /** The permission the caller needs, given the path params; null: any valid credential (the handler decides). */
  operation(params: Readonly<Record<string, string>>): Operation | null;
  handle(call: RouteCall): Promise<void>;
}

interface CompiledRoute {
  route: Route;
  segments: ReadonlyArray<{ literal: string } | { param: string }>;
}

export type MatchResult =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'wrong-method'; allowed: Method[] }
  | { kind: 'none' };

export class Router {
  private readonly compiled: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.compiled = routes.map((route) => ({
      route,
      segments: splitPath(route.path).map((s) =>
        s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s.toLowerCase() },
      ),
    }));
  }

  /** `rawPath` is the request path without the query, still percent-encoded. */
  match(method: string, rawPath: string): MatchResult {
    const segments = splitPath(rawPath).map(decodeSegment);
    const allowed: Method[] = [];
    for (const c of this.compiled) {
      const params = matchSegments(c.segments, segments);
      if (!params) continue;
      if (c.route.method === method) return { kind: 'found', route: c.route, params };
      allowed.push(c.route.method);
    }
    return allowed.length > 0 ? { kind: 'wrong-method', allowed } : { kind: 'none' };
  }
}

/** '/devices/' and '/devices' are the same resource (the Node registry lists with the slash). */
function splitPath(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.split('/').slice(1);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch (cause) {
    throw new FerryError('ArgumentInvalid', `The path segment "${s.slice(0, 40)}" is not valid percent-encoding`, {
      cause,
    });
  }
}

function matchSegments(
  pattern: CompiledRoute['segments'],
  segments: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if ('literal' in p) {
      if (s.toLowerCase() !== p.literal) return undefined;
    } else {
      if (s === '') return undefined;
      params[p.param] = s;
    }
  }
  return params;
}
