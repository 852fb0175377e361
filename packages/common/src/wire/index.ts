export * from './amqp.js';
export * from './http.js';
export * from './http-text.js';
export * from './message-fields.js';
export * from './mqtt.js';
