import { dropSchemasWhenPassed, openTestStore } from './pg-test-db.js';
import { runStoreContract } from './store-contract.js';

dropSchemasWhenPassed();
runStoreContract('postgres', () => openTestStore());
