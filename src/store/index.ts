/**
 * The store's public surface: the contract and its three implementations. Code outside
 * src/store imports from here and never from the files that know the disk layout.
 */
export type { ScheduleEntry, Snapshot, Store, StoredModule } from "./store.js";
export { createMemoryStore } from "./memory-store.js";
export { openLmdbStore, type LmdbStoreOptions } from "./lmdb-store.js";
export { openPostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
