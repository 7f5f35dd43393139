-- DropIndex
DROP INDEX "webhook_deliveries_endpoint_id_audit_event_id_key";
