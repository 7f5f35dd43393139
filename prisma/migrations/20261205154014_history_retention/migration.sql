-- How far back an organization's history is kept for reads as of a past moment: versions
-- superseded before the horizon are pruned, the one valid at the horizon stays.
ALTER TABLE "organizations" ADD COLUMN     "history_retention_days" INTEGER NOT NULL DEFAULT 365;

ALTER TABLE "organizations_history" ADD COLUMN     "history_retention_days" INTEGER NOT NULL DEFAULT 365;

ALTER TABLE "organizations" ADD CONSTRAINT "organizations_history_retention_days_check" CHECK ("history_retention_days" BETWEEN 1 AND 3650);
