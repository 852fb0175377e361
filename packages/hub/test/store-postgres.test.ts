import { dropSchemasWhenPassed, openTestStore, testSchema } from './pg-test-db.js';
import { runStoreContract } from './store-contract.js';
import { runSharedStoreContract } from './store-contract-shared.js';

dropSchemasWhenPassed();
runStoreContract('postgres', () => openTestStore());
// Again as the hub's only node, as its heartbeat would find it: its leases take no row lock
// (lease-lock-sql.ts), so the contract holds for both forms of the lease.
runStoreContract('postgres, the only node', async () => {
  const store = await openTestStore();
  store.othersLive = false;
  return store;
});
runSharedStoreContract('postgres', async () => {
  const schema = testSchema();
  // Opened at once, as two nodes starting together: the advisory lock serialises the migration.
  return Promise.all([openTestStore(schema), openTestStore(schema)]);
});
