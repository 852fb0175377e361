import { runEventLogContract } from './event-log-contract.js';
import { dropSchemasWhenPassed, openTestStore } from './pg-test-db.js';

dropSchemasWhenPassed();
runEventLogContract('postgres', () => openTestStore());
