-- DropIndex
DROP INDEX "identifiers_organization_id_user_id_source_id_identifier_ke_key";

-- AlterTable
ALTER TABLE "identifiers" ADD COLUMN     "merge_slot" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "identifiers_history" ADD COLUMN     "merge_slot" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE UNIQUE INDEX "identifiers_organization_id_user_id_source_id_identifier_ke_key" ON "identifiers"("organization_id", "user_id", "source_id", "identifier_key", "merge_slot");

ALTER TABLE "identifiers" ADD CONSTRAINT "identifiers_merge_slot_check" CHECK ("merge_slot" >= 0);

-- Rows kept as JSON (deleted items, merge records) go back through the table's row type,
-- where a missing key is NULL, not the default: they get the slot they held, 0.
CREATE FUNCTION "pg_temp"."with_slot"(tables jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT CASE WHEN jsonb_typeof(tables -> 'identifiers') = 'array'
    THEN jsonb_set(tables, '{identifiers}', COALESCE((SELECT jsonb_agg(r || '{"merge_slot": 0}'::jsonb ORDER BY n)
      FROM jsonb_array_elements(tables -> 'identifiers') WITH ORDINALITY AS e(r, n)), '[]'::jsonb))
    ELSE tables END
$$;
UPDATE "deleted_items" SET "rows" = pg_temp.with_slot("rows") WHERE "rows" ? 'identifiers';
UPDATE "merges" SET "before" = pg_temp.with_slot("before"), "after" = pg_temp.with_slot("after")
  WHERE "before" ? 'identifiers' OR "after" ? 'identifiers';
