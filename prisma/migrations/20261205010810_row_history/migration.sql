-- Every version of the rows that reads as of a past moment need, each valid from the
-- time of the transaction that wrote it (all changes of one transaction share that
-- moment) until the one that replaced or deleted it (valid_to null: still current).
-- CreateTable
CREATE TABLE "organizations_history" (
    "id" UUID NOT NULL,
    "slug" VARCHAR(63) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "auto_approve_link_confidence" DOUBLE PRECISION,
    "default_phone_region" VARCHAR(2),
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),

    CONSTRAINT "organizations_history_pkey" PRIMARY KEY ("id","valid_from")
);

-- CreateTable
CREATE TABLE "users_history" (
    "id" UUID NOT NULL,
    "email" VARCHAR(320) NOT NULL,
    "auth_subject" VARCHAR(255),
    "given_name" VARCHAR(200),
    "family_name" VARCHAR(200),
    "nickname" VARCHAR(200),
    "name" VARCHAR(200),
    "picture" VARCHAR(2048),
    "is_system_admin" BOOLEAN NOT NULL,
    "merged_into_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),

    CONSTRAINT "users_history_pkey" PRIMARY KEY ("id","valid_from")
);

-- CreateTable
CREATE TABLE "members_history" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "role" "MemberRole" NOT NULL,
    "state" "MembershipState" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),

    CONSTRAINT "members_history_pkey" PRIMARY KEY ("id","valid_from")
);

-- CreateTable
CREATE TABLE "integration_sources_history" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "kind" "SourceKind" NOT NULL,
    "key" VARCHAR(63) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "default_phone_region" VARCHAR(2),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),

    CONSTRAINT "integration_sources_history_pkey" PRIMARY KEY ("id","valid_from")
);

-- CreateTable
CREATE TABLE "identifiers_history" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "identifier_key" VARCHAR(255) NOT NULL,
    "identifier_value" VARCHAR(1024) NOT NULL,
    "normalized_value" VARCHAR(1024) NOT NULL,
    "discovery_method" "DiscoveryMethod" NOT NULL,
    "confidence_score" DOUBLE PRECISION,
    "discovery_metadata" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "value_kind" "ValueKind" NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),

    CONSTRAINT "identifiers_history_pkey" PRIMARY KEY ("id","valid_from")
);

-- CreateTable
CREATE TABLE "identities_history" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "identifier_key" VARCHAR(255) NOT NULL,
    "identity_type" "IdentityType" NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "email" VARCHAR(320),
    "phone_number" VARCHAR(16),
    "project_id" VARCHAR(255),
    "source_id" UUID,
    "external_id" VARCHAR(255),
    "external_username" VARCHAR(255),
    "external_email" VARCHAR(320),
    "external_email_verified" BOOLEAN NOT NULL,
    "external_display_name" VARCHAR(200),
    "user_id" UUID,
    "linked_by" "LinkedBy",
    "linked_at" TIMESTAMPTZ(3),
    "last_synced_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),

    CONSTRAINT "identities_history_pkey" PRIMARY KEY ("id","valid_from")
);

-- CreateTable
CREATE TABLE "identity_properties_history" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "identity_id" UUID NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "type" "PropertyType" NOT NULL,
    "value" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),

    CONSTRAINT "identity_properties_history_pkey" PRIMARY KEY ("id","valid_from")
);

-- CreateIndex
CREATE INDEX "members_history_user_id_valid_from_idx" ON "members_history"("user_id", "valid_from");

-- CreateIndex
CREATE INDEX "members_history_organization_id_valid_from_idx" ON "members_history"("organization_id", "valid_from");

-- CreateIndex
CREATE INDEX "integration_sources_history_organization_id_key_valid_from_idx" ON "integration_sources_history"("organization_id", "key", "valid_from");

-- CreateIndex
CREATE INDEX "identifiers_history_organization_id_source_id_identifier_ke_idx" ON "identifiers_history"("organization_id", "source_id", "identifier_key", "normalized_value", "valid_from");

-- CreateIndex
CREATE INDEX "identifiers_history_organization_id_normalized_value_valid__idx" ON "identifiers_history"("organization_id", "normalized_value", "valid_from");

-- CreateIndex
CREATE INDEX "identifiers_history_user_id_valid_from_idx" ON "identifiers_history"("user_id", "valid_from");

-- CreateIndex
CREATE INDEX "identities_history_user_id_valid_from_idx" ON "identities_history"("user_id", "valid_from");

-- CreateIndex
CREATE INDEX "identities_history_organization_id_valid_from_idx" ON "identities_history"("organization_id", "valid_from");

-- CreateIndex
CREATE INDEX "identity_properties_history_identity_id_valid_from_idx" ON "identity_properties_history"("identity_id", "valid_from");

-- One function writes the history of every versioned table, once per statement from its
-- transition tables, so a bulk write of 1,000 rows costs three set-based statements, not
-- 1,000 row triggers. The columns are the live table's, read from the catalog, so a
-- column added to both tables is versioned without touching the function.
CREATE FUNCTION "record_row_history"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  history text := TG_TABLE_NAME || '_history';
  cols text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    -- A version written earlier in this transaction was never seen at any other moment:
    -- it is replaced rather than closed into an empty period.
    EXECUTE format('DELETE FROM %I h USING "old_rows" o WHERE h."id" = o."id" AND h."valid_to" IS NULL AND h."valid_from" = now()', history);
    EXECUTE format('UPDATE %I h SET "valid_to" = now() FROM "old_rows" o WHERE h."id" = o."id" AND h."valid_to" IS NULL', history);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('INSERT INTO %I (%s, "valid_from") SELECT %s, now() FROM "new_rows"', history, cols, cols);
  END IF;
  RETURN NULL;
END;
$$;

-- Transition tables need one trigger per event.
DO $$
DECLARE
  t text;
  cols text;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations', 'users', 'members', 'integration_sources', 'identifiers', 'identities', 'identity_properties'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS "new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "record_row_history"()', t || '_history_insert', t);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS "old_rows" NEW TABLE AS "new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "record_row_history"()', t || '_history_update', t);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS "old_rows" FOR EACH STATEMENT EXECUTE FUNCTION "record_row_history"()', t || '_history_delete', t);
    -- Rows that exist now get their first version: nothing earlier is known of them.
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = t::regclass AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('INSERT INTO %I (%s, "valid_from") SELECT %s, now() FROM %I', t || '_history', cols, cols, t);
  END LOOP;
END;
$$;
