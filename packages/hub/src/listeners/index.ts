export { type BindTarget, bindError } from './bind-error.js';
export { type HttpGatewayHandler, type ListenerOptions, Listeners } from './listeners.js';
export { OperationsListener, type OperationsListenerOptions, operationsTarget } from './operations.js';
export { checkPortsFree, type RunningHubHint } from './port-check.js';
export { pickProtocol, WEBSOCKET_PATH, WebSocketRouter, type WsProtocol } from './websocket.js';
