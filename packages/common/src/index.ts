export * from './connection-string.js';
export * from './errors.js';
export * from './message.js';
export * from './property-bag.js';
export * from './sas.js';
export * from './suggest.js';
export * from './wire/index.js';
