/**
 * The hub's pino logger. Logs go to stderr so that stdout stays for what a user or a script
 * reads (connection strings, file paths, the ready line).
 */
import { type Logger, pino } from 'pino';
import type { HubConfig } from '../config/types.js';

export function createLogger(level: HubConfig['log']['level'], destination: number = 2): Logger {
  return pino(
    { level, base: { name: 'ferry-hub' }, timestamp: pino.stdTimeFunctions.isoTime },
    // Synchronous writes: a log line printed just before an exit is never lost.
    pino.destination({ fd: destination, sync: true }),
  );
}
