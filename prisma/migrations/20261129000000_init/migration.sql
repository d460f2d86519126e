-- CreateTable
CREATE TABLE "runs" (
    "id" TEXT NOT NULL,
    "mapping" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "trigger" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),
    "members" INTEGER,
    "added" INTEGER NOT NULL DEFAULT 0,
    "removed" INTEGER NOT NULL DEFAULT 0,
    "updated" INTEGER NOT NULL DEFAULT 0,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "duration_ms" INTEGER,
    "error" TEXT,
    "forced" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "snapshot_members" (
    "mapping" TEXT NOT NULL,
    "user_key" TEXT NOT NULL,
    "sourced_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "username" TEXT,
    "email" TEXT,
    "given_name" TEXT,
    "family_name" TEXT,
    "grades" TEXT[],
    "orgs" TEXT[],
    "run_id" TEXT NOT NULL,

    CONSTRAINT "snapshot_members_pkey" PRIMARY KEY ("mapping","user_key")
);

-- CreateTable
CREATE TABLE "events" (
    "seq" BIGSERIAL NOT NULL,
    "id" TEXT NOT NULL,
    "run_id" TEXT NOT NULL,
    "mapping" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "product" JSON NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "user_data" JSON NOT NULL,

    CONSTRAINT "events_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "event_deliveries" (
    "event_id" TEXT NOT NULL,
    "sink" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),

    CONSTRAINT "event_deliveries_pkey" PRIMARY KEY ("event_id","sink")
);

-- CreateTable
CREATE TABLE "sink_state" (
    "sink" TEXT NOT NULL,
    "position" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "sink_state_pkey" PRIMARY KEY ("sink")
);

-- CreateIndex
CREATE INDEX "runs_mapping_started_at_idx" ON "runs"("mapping", "started_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "events_id_key" ON "events"("id");

-- CreateIndex
CREATE INDEX "events_mapping_seq_idx" ON "events"("mapping", "seq");

-- CreateIndex
CREATE INDEX "events_run_id_idx" ON "events"("run_id");

-- CreateIndex
CREATE INDEX "event_deliveries_sink_state_idx" ON "event_deliveries"("sink", "state");

-- AddForeignKey
ALTER TABLE "event_deliveries" ADD CONSTRAINT "event_deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE CASCADE;
