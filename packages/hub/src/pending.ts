/**
 * TEMPORARY stand-ins for modules being written in parallel (engine, gateways). hub.ts imports
 * them from here until the real ones land; then this file is deleted.
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { C2dConfig, FeedbackConfig } from './config/types.js';
import type { C2dEngine } from './engine/types.js';
import type { GatewayContext, StreamGateway } from './gateways/context.js';
import type { HttpGatewayHandler } from './listeners/index.js';
import type { Store } from './store/types.js';

const notYet = (): never => {
  throw new FerryError('NotImplemented', 'the C2D engine is not wired in yet');
};

export class Engine implements C2dEngine {
  constructor(_opts: { store: Store; clock: Clock; c2d: C2dConfig; feedback: FeedbackConfig; logger: Logger }) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  send = notYet;
  sendMany = notYet;
  receive = notYet;
  complete = notYet;
  abandon = notYet;
  reject = notYet;
  release = notYet;
  purge = notYet;
  async queueDepth(): Promise<number> {
    return 0;
  }
  onAvailable = () => () => {};
  receiveFeedback = notYet;
  completeFeedback = notYet;
  abandonFeedback = notYet;
  rejectFeedback = notYet;
  onFeedbackAvailable = () => () => {};
}

function streamGateway(_ctx: GatewayContext): StreamGateway {
  return {
    handle: (stream) => stream.destroy(),
    close: async () => {},
    connectionCount: 0,
  };
}

export const createMqttGateway = streamGateway;
export const createAmqpGateway = streamGateway;

export function createHttpGateway(_ctx: GatewayContext): HttpGatewayHandler & { close(): Promise<void> } {
  return {
    handle: (_req, res) => {
      res.writeHead(501, { 'content-type': 'text/plain' });
      res.end('not wired in yet\n');
    },
    close: async () => {},
  };
}
