// What the sync processor and the relay loop (jobs/) report as they go. The worker's metrics
// (src/worker/http.ts) implement it; it sits below both so that jobs/ never imports src/worker/.
import type { RelayResult } from "../events/relay.js";
import type { ProviderStats } from "../providers/types.js";
import type { RunSummary } from "../sync/run.js";

export interface WorkerObserver {
  runFinished(summary: RunSummary): void;
  skipped(mapping: string, reason: string): void;
  jobFailed(mapping: string, kind: "permanent" | "transient"): void;
  providerStats(provider: string, stats: ProviderStats): void;
  relayed(result: RelayResult): void;
}
