-- DropForeignKey
ALTER TABLE "event_deliveries" DROP CONSTRAINT "event_deliveries_event_id_fkey";
