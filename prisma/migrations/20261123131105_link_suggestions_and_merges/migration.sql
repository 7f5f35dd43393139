-- CreateEnum
CREATE TYPE "SuggestionState" AS ENUM ('SUGGESTED', 'APPROVED', 'REJECTED');

-- CreateEnum
CREATE TYPE "PartyType" AS ENUM ('USER', 'IDENTITY');

-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "auto_approve_link_confidence" DOUBLE PRECISION;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "merged_into_id" UUID;

-- CreateTable
CREATE TABLE "link_suggestions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "a_type" "PartyType" NOT NULL,
    "a_id" UUID NOT NULL,
    "b_type" "PartyType" NOT NULL,
    "b_id" UUID NOT NULL,
    "subject_is_a" BOOLEAN NOT NULL DEFAULT true,
    "state" "SuggestionState" NOT NULL DEFAULT 'SUGGESTED',
    "confidence" DOUBLE PRECISION,
    "evidence" JSONB NOT NULL DEFAULT '[]',
    "metadata" JSONB,
    "created_by" VARCHAR(40) NOT NULL,
    "decided_by_id" UUID,
    "decided_at" TIMESTAMPTZ(3),
    "merge_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "link_suggestions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "merges" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "survivor_id" UUID NOT NULL,
    "merged_id" UUID NOT NULL,
    "organization_ids" UUID[],
    "before" JSONB NOT NULL,
    "after" JSONB NOT NULL,
    "decisions" JSONB NOT NULL DEFAULT '[]',
    "actor_user_id" UUID,
    "actor_api_key_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "undone_at" TIMESTAMPTZ(3),
    "undone_by_user_id" UUID,

    CONSTRAINT "merges_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "link_suggestions_organization_id_state_confidence_idx" ON "link_suggestions"("organization_id", "state", "confidence");

-- CreateIndex
CREATE INDEX "link_suggestions_a_id_idx" ON "link_suggestions"("a_id");

-- CreateIndex
CREATE INDEX "link_suggestions_b_id_idx" ON "link_suggestions"("b_id");

-- CreateIndex
CREATE UNIQUE INDEX "link_suggestions_organization_id_a_type_a_id_b_type_b_id_key" ON "link_suggestions"("organization_id", "a_type", "a_id", "b_type", "b_id");

-- CreateIndex
CREATE INDEX "merges_survivor_id_created_at_idx" ON "merges"("survivor_id", "created_at");

-- CreateIndex
CREATE INDEX "merges_merged_id_created_at_idx" ON "merges"("merged_id", "created_at");

-- CreateIndex
CREATE INDEX "users_merged_into_id_idx" ON "users"("merged_into_id");

-- AddForeignKey
ALTER TABLE "users" ADD CONSTRAINT "users_merged_into_id_fkey" FOREIGN KEY ("merged_into_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "link_suggestions" ADD CONSTRAINT "link_suggestions_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "merges" ADD CONSTRAINT "merges_survivor_id_fkey" FOREIGN KEY ("survivor_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "merges" ADD CONSTRAINT "merges_merged_id_fkey" FOREIGN KEY ("merged_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Rules the schema language cannot express.
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_auto_approve_link_confidence_range"
  CHECK ("auto_approve_link_confidence" IS NULL OR ("auto_approve_link_confidence" >= 0 AND "auto_approve_link_confidence" <= 1));
ALTER TABLE "users" ADD CONSTRAINT "users_not_merged_into_self" CHECK ("merged_into_id" IS NULL OR "merged_into_id" <> "id");
ALTER TABLE "link_suggestions" ADD CONSTRAINT "link_suggestions_confidence_range"
  CHECK ("confidence" IS NULL OR ("confidence" >= 0 AND "confidence" <= 1));
-- One row per pair: the sides in a normalised order, never the same object twice.
ALTER TABLE "link_suggestions" ADD CONSTRAINT "link_suggestions_pair_order"
  CHECK (("a_type"::text, "a_id") < ("b_type"::text, "b_id"));
ALTER TABLE "link_suggestions" ADD CONSTRAINT "link_suggestions_evidence_array" CHECK (jsonb_typeof("evidence") = 'array');
ALTER TABLE "link_suggestions" ADD CONSTRAINT "link_suggestions_metadata_object"
  CHECK ("metadata" IS NULL OR jsonb_typeof("metadata") = 'object');
ALTER TABLE "link_suggestions" ADD CONSTRAINT "link_suggestions_decided"
  CHECK (("state" = 'SUGGESTED') = ("decided_at" IS NULL));
ALTER TABLE "merges" ADD CONSTRAINT "merges_two_users" CHECK ("survivor_id" <> "merged_id");
ALTER TABLE "merges" ALTER COLUMN "organization_ids" SET NOT NULL;
