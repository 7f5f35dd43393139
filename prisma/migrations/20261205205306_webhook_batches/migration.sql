-- The outbox of a write: one row per statement and endpoint naming the audit events it
-- wants, in place of a delivery row per event; workers turn batches into deliveries.
-- CreateTable
CREATE TABLE "webhook_batches" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "seq" BIGSERIAL NOT NULL,
    "organization_id" UUID NOT NULL,
    "endpoint_id" UUID NOT NULL,
    "audit_event_ids" UUID[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_batches_pkey" PRIMARY KEY ("id")
);

-- AddForeignKey
ALTER TABLE "webhook_batches" ADD CONSTRAINT "webhook_batches_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Batches belong to their organization like deliveries (migration row_level_security).
ALTER TABLE webhook_batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_scope ON webhook_batches
  USING ((SELECT igs_scope_all()) OR organization_id = ANY (CAST((SELECT igs_scope_organizations()) AS uuid[])));
