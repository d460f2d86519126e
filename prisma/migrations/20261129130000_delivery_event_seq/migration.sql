-- DropIndex
DROP INDEX "event_deliveries_sink_state_idx";

-- AlterTable
ALTER TABLE "event_deliveries" ADD COLUMN "event_seq" BIGINT;

-- Backfill: the outbox position of each delivery's event.
UPDATE "event_deliveries" AS d SET "event_seq" = e."seq" FROM "events" AS e WHERE e."id" = d."event_id";

ALTER TABLE "event_deliveries" ALTER COLUMN "event_seq" SET NOT NULL;

-- CreateIndex
CREATE INDEX "event_deliveries_sink_state_event_seq_idx" ON "event_deliveries"("sink", "state", "event_seq");
