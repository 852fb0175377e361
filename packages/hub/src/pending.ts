/**
 * TEMPORARY stand-in for the AMQP gateway, being written in parallel. hub.ts imports it from
 * here until gateways/amqp/index.ts lands; then this file is deleted.
 */
import type { GatewayContext, StreamGateway } from './gateways/context.js';

export function createAmqpGateway(_ctx: GatewayContext): StreamGateway {
  return {
    handle: (stream) => stream.destroy(),
    close: async () => {},
    connectionCount: 0,
  };
}
