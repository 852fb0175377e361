export { ConfigError } from './config-error.js';
export { DEFAULT_CONFIG } from './defaults.js';
export { parseIsoDuration } from './duration.js';
export { readConfigFile } from './file.js';
export { type ConfigSources, parseConfig } from './parse.js';
export { envName } from './schema.js';
export type * from './types.js';
