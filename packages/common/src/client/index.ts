/**
 * What @ferry/device and @ferry/service share: error classification, retry policies, SAS token
 * sources, and the HTTPS and AMQP plumbing. Imported as `@ferry/common/client`; the hub never loads it.
 */
export * from './amqp.js';
export * from './amqp-outcomes.js';
export * from './client-errors.js';
export * from './https.js';
export * from './retry.js';
export * from './tokens.js';
