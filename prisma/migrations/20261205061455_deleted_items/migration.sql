-- Deleted objects wait here, out of the live tables, until restored or purged; how long
-- is each organization's deleted_retention_days.
-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "deleted_retention_days" INTEGER NOT NULL DEFAULT 30;

-- AlterTable
ALTER TABLE "organizations_history" ADD COLUMN     "deleted_retention_days" INTEGER NOT NULL DEFAULT 30;

-- CreateTable
CREATE TABLE "deleted_items" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "entity_type" VARCHAR(40) NOT NULL,
    "entity_id" UUID NOT NULL,
    "rows" JSONB NOT NULL,
    "label" VARCHAR(500) NOT NULL,
    "reason" VARCHAR(1000),
    "deleted_by_user_id" UUID,
    "deleted_by_api_key_id" UUID,
    "deleted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deleted_items_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "deleted_items_organization_id_deleted_at_id_idx" ON "deleted_items"("organization_id", "deleted_at" DESC, "id");

-- CreateIndex
CREATE INDEX "deleted_items_deleted_at_idx" ON "deleted_items"("deleted_at");

-- CreateIndex
CREATE UNIQUE INDEX "deleted_items_entity_id_key" ON "deleted_items"("entity_id");

-- AddForeignKey
ALTER TABLE "deleted_items" ADD CONSTRAINT "deleted_items_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "organizations" ADD CONSTRAINT "organizations_deleted_retention_days_check" CHECK ("deleted_retention_days" BETWEEN 1 AND 3650);
