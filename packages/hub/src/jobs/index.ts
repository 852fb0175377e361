/** The jobs domain's public surface. */
export type { JobTargets } from './actions.js';
export { Jobs, type JobsOptions, type JobView } from './jobs.js';
export * from './types.js';
