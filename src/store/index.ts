// The storage layer: what the sync, the relay and the CLI need, by name. Callers never build Prisma
// queries themselves (CONVENTIONS: persistence operations have names).

export {
  openDatabase,
  type Database,
  type DatabaseKind,
  type OpenDatabaseOptions,
  type StoreDb,
} from "./db.js";
export { applyMigrations, readMigrations, type Migration } from "./migrate.js";
export {
  commitRun,
  getRun,
  lastAppliedRunId,
  listRuns,
  recordRun,
  type CommitRunInput,
  type RunRow,
  type RunStatus,
} from "./runs.js";
export { listMembers, loadSnapshot } from "./snapshot.js";
export {
  getSinkPosition,
  listEvents,
  markDelivered,
  markFailed,
  pendingDeliveries,
  recordAttempt,
  type Delivery,
  type DeliveryState,
  type EventRow,
  type EventType,
  type EventWithDeliveries,
  type ListEventsOptions,
  type PendingDelivery,
  type StoredEvent,
} from "./outbox.js";
export { deliveryCounts, memberCounts, ping, type DeliveryCount, type MemberCount } from "./stats.js";
