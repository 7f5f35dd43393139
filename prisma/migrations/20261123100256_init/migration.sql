-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "MemberRole" AS ENUM ('SYSTEM_ADMIN', 'ORGANIZATION_ADMIN', 'ANALYST');

-- CreateEnum
CREATE TYPE "MembershipState" AS ENUM ('ACTIVE', 'PENDING', 'SUSPENDED');

-- CreateEnum
CREATE TYPE "SourceKind" AS ENUM ('INTEGRATION', 'IDENTITY_PROVIDER');

-- CreateEnum
CREATE TYPE "DiscoveryMethod" AS ENUM ('MCP_TOOL', 'LLM_DISCOVERY', 'MANUAL');

-- CreateEnum
CREATE TYPE "IdentityType" AS ENUM ('ORG', 'USER', 'OTHER');

-- CreateEnum
CREATE TYPE "PropertyType" AS ENUM ('STRING', 'NUMBER', 'BOOLEAN', 'JSON');

-- CreateEnum
CREATE TYPE "LinkedBy" AS ENUM ('AUTO', 'MANUAL', 'SCIM');

-- CreateTable
CREATE TABLE "organizations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "slug" VARCHAR(63) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "organizations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" VARCHAR(320) NOT NULL,
    "auth_subject" VARCHAR(255),
    "given_name" VARCHAR(200),
    "family_name" VARCHAR(200),
    "nickname" VARCHAR(200),
    "name" VARCHAR(200),
    "picture" VARCHAR(2048),
    "is_system_admin" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "members" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "role" "MemberRole" NOT NULL DEFAULT 'ANALYST',
    "state" "MembershipState" NOT NULL DEFAULT 'PENDING',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "members_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "integration_sources" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "kind" "SourceKind" NOT NULL,
    "key" VARCHAR(63) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "integration_sources_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "identifiers" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "identifier_key" VARCHAR(255) NOT NULL,
    "identifier_value" VARCHAR(1024) NOT NULL,
    "discovery_method" "DiscoveryMethod" NOT NULL,
    "confidence_score" DOUBLE PRECISION,
    "discovery_metadata" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "identifiers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "identities" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
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
    "external_email_verified" BOOLEAN NOT NULL DEFAULT false,
    "external_display_name" VARCHAR(200),
    "user_id" UUID,
    "linked_by" "LinkedBy",
    "linked_at" TIMESTAMPTZ(3),
    "last_synced_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "identities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "identity_properties" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "identity_id" UUID NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "type" "PropertyType" NOT NULL,
    "value" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "identity_properties_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "role" "MemberRole" NOT NULL DEFAULT 'ANALYST',
    "prefix" VARCHAR(32) NOT NULL,
    "secret_hash" CHAR(64) NOT NULL,
    "created_by_id" UUID,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "organizations_slug_key" ON "organizations"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "users_auth_subject_key" ON "users"("auth_subject");

-- CreateIndex
CREATE INDEX "members_user_id_idx" ON "members"("user_id");

-- CreateIndex
CREATE INDEX "members_organization_id_role_state_idx" ON "members"("organization_id", "role", "state");

-- CreateIndex
CREATE UNIQUE INDEX "members_organization_id_user_id_key" ON "members"("organization_id", "user_id");

-- CreateIndex
CREATE UNIQUE INDEX "integration_sources_organization_id_key_key" ON "integration_sources"("organization_id", "key");

-- CreateIndex
CREATE UNIQUE INDEX "integration_sources_organization_id_id_key" ON "integration_sources"("organization_id", "id");

-- CreateIndex
CREATE INDEX "identifiers_organization_id_source_id_identifier_key_identi_idx" ON "identifiers"("organization_id", "source_id", "identifier_key", "identifier_value");

-- CreateIndex
CREATE INDEX "identifiers_organization_id_identifier_value_idx" ON "identifiers"("organization_id", "identifier_value");

-- CreateIndex
CREATE INDEX "identifiers_user_id_idx" ON "identifiers"("user_id");

-- CreateIndex
CREATE INDEX "identifiers_source_id_idx" ON "identifiers"("source_id");

-- CreateIndex
CREATE UNIQUE INDEX "identifiers_organization_id_user_id_source_id_identifier_ke_key" ON "identifiers"("organization_id", "user_id", "source_id", "identifier_key");

-- CreateIndex
CREATE INDEX "identities_user_id_idx" ON "identities"("user_id");

-- CreateIndex
CREATE INDEX "identities_organization_id_identity_type_idx" ON "identities"("organization_id", "identity_type");

-- CreateIndex
CREATE UNIQUE INDEX "identities_organization_id_identifier_key_key" ON "identities"("organization_id", "identifier_key");

-- CreateIndex
CREATE UNIQUE INDEX "identities_organization_id_email_key" ON "identities"("organization_id", "email");

-- CreateIndex
CREATE UNIQUE INDEX "identities_organization_id_phone_number_key" ON "identities"("organization_id", "phone_number");

-- CreateIndex
CREATE UNIQUE INDEX "identities_source_id_external_id_key" ON "identities"("source_id", "external_id");

-- CreateIndex
CREATE UNIQUE INDEX "identities_organization_id_id_key" ON "identities"("organization_id", "id");

-- CreateIndex
CREATE UNIQUE INDEX "identity_properties_identity_id_key_key" ON "identity_properties"("identity_id", "key");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_secret_hash_key" ON "api_keys"("secret_hash");

-- CreateIndex
CREATE INDEX "api_keys_organization_id_idx" ON "api_keys"("organization_id");

-- AddForeignKey
ALTER TABLE "members" ADD CONSTRAINT "members_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "members" ADD CONSTRAINT "members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "integration_sources" ADD CONSTRAINT "integration_sources_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "identifiers" ADD CONSTRAINT "identifiers_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "identifiers" ADD CONSTRAINT "identifiers_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "identifiers" ADD CONSTRAINT "identifiers_organization_id_source_id_fkey" FOREIGN KEY ("organization_id", "source_id") REFERENCES "integration_sources"("organization_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "identities" ADD CONSTRAINT "identities_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "identities" ADD CONSTRAINT "identities_organization_id_source_id_fkey" FOREIGN KEY ("organization_id", "source_id") REFERENCES "integration_sources"("organization_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "identities" ADD CONSTRAINT "identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "identity_properties" ADD CONSTRAINT "identity_properties_organization_id_identity_id_fkey" FOREIGN KEY ("organization_id", "identity_id") REFERENCES "identities"("organization_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Rules the database enforces beyond what schema.prisma can express.
ALTER TABLE "identifiers" ADD CONSTRAINT "identifiers_confidence_score_range"
  CHECK ("confidence_score" IS NULL OR ("confidence_score" >= 0 AND "confidence_score" <= 1));
ALTER TABLE "identifiers" ADD CONSTRAINT "identifiers_discovery_metadata_object"
  CHECK ("discovery_metadata" IS NULL OR jsonb_typeof("discovery_metadata") = 'object');
ALTER TABLE "users" ADD CONSTRAINT "users_email_lower_case" CHECK ("email" = lower("email"));
ALTER TABLE "identities" ADD CONSTRAINT "identities_email_lower_case" CHECK ("email" = lower("email"));
ALTER TABLE "identities" ADD CONSTRAINT "identities_phone_number_e164"
  CHECK ("phone_number" IS NULL OR "phone_number" ~ '^\+[1-9][0-9]{6,14}$');
ALTER TABLE "identities" ADD CONSTRAINT "identities_external_id_needs_source"
  CHECK ("external_id" IS NULL OR "source_id" IS NOT NULL);
ALTER TABLE "identity_properties" ADD CONSTRAINT "identity_properties_value_matches_type"
  CHECK (
    ("type" = 'STRING' AND jsonb_typeof("value") = 'string') OR
    ("type" = 'NUMBER' AND jsonb_typeof("value") = 'number') OR
    ("type" = 'BOOLEAN' AND jsonb_typeof("value") = 'boolean') OR
    ("type" = 'JSON')
  );
