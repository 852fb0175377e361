export { type BindTarget, bindError } from './bind-error.js';
export { type HttpGatewayHandler, type ListenerOptions, Listeners } from './listeners.js';
export { pickProtocol, WEBSOCKET_PATH, WebSocketRouter, type WsProtocol } from './websocket.js';
