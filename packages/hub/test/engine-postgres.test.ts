/** The engine tests again, each engine on its own PostgreSQL schema (engine-harness.ts picks the store). */
import { dropSchemasWhenPassed } from './pg-test-db.js';

process.env.FERRY_TEST_STORE = 'postgres';
dropSchemasWhenPassed();
await import('./engine-send.test.js');
await import('./engine-feedback.test.js');
await import('./engine-lifecycle.test.js');
await import('./engine-scheduler.test.js');
await import('./engine-commit.test.js');
await import('./engine-direct.test.js');
await import('./engine-late-lease.test.js');
await import('./engine-history.test.js');
