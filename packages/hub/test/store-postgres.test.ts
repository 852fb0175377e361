import { dropSchemasWhenPassed, openTestStore, testSchema } from './pg-test-db.js';
import { runStoreContract } from './store-contract.js';
import { runSharedStoreContract } from './store-contract-shared.js';

dropSchemasWhenPassed();
runStoreContract('postgres', () => openTestStore());
runSharedStoreContract('postgres', async () => {
  const schema = testSchema();
  // Opened at once, as two nodes starting together: the advisory lock serialises the migration.
  return Promise.all([openTestStore(schema), openTestStore(schema)]);
});
