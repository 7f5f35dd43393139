-- History is only ever added to: a version is valid from its valid_from until the next
-- version of its row, and a deletion is one more version, marked deleted. Closing the
-- previous version (an UPDATE of every changed row's last version, with its index
-- entries) cost a bulk write of 1,000 rows more than the write itself.
ALTER TABLE "organizations_history" ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "users_history" ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "members_history" ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "integration_sources_history" ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "identifiers_history" ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "identities_history" ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "identity_properties_history" ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;

-- A version closed with no version after it was deleted then: that becomes its own version.
DO $$
DECLARE
  t text;
  cols text;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations', 'users', 'members', 'integration_sources', 'identifiers', 'identities', 'identity_properties'] LOOP
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = t::regclass AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('INSERT INTO %1$I (%2$s, "valid_from", "deleted") SELECT %2$s, "valid_to", true FROM %1$I v
      WHERE "valid_to" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %1$I w WHERE w."id" = v."id" AND w."valid_from" = v."valid_to")', t || '_history', cols);
    EXECUTE format('ALTER TABLE %I DROP COLUMN "valid_to"', t || '_history');
  END LOOP;
END;
$$;

-- resolve as of a moment finds identifiers by (organization, normalised value) alone.
DROP INDEX "identifiers_history_organization_id_source_id_identifier_ke_idx";

-- One INSERT per changing statement. A row changed again in the same transaction keeps
-- one version (that transaction's moment): the conflict replaces it.
CREATE OR REPLACE FUNCTION "record_row_history"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  cols text;
  sets text;
BEGIN
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum), string_agg(format('%1$I = excluded.%1$I', attname), ', ' ORDER BY attnum)
    INTO cols, sets FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped;
  EXECUTE format(
    'INSERT INTO %I (%s, "valid_from", "deleted") SELECT %s, now(), %L FROM %I ON CONFLICT ("id", "valid_from") DO UPDATE SET %s, "deleted" = excluded."deleted"',
    TG_TABLE_NAME || '_history', cols, cols, TG_OP = 'DELETE', CASE WHEN TG_OP = 'DELETE' THEN 'old_rows' ELSE 'new_rows' END, sets);
  RETURN NULL;
END;
$$;
