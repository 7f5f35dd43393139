-- Identifiers get a value kind and a normalised value beside the raw one, and are
-- looked up and matched by the normalised value. The two functions render the rules of
-- src/modules/matching/normalise.ts in SQL for the rows already stored (and for tools
-- that write rows with SQL alone); test/normalise.test.ts checks that they agree.
-- No organization or source has a default phone region yet, so a national phone
-- number keeps its digits here, exactly as the server would store it without one.

CREATE TYPE "ValueKind" AS ENUM ('EMAIL', 'PHONE', 'URL', 'OTHER');

CREATE FUNCTION "identifier_value_kind"(key text, value text) RETURNS "ValueKind"
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN v ~ '^[^[:space:]@]+@[^[:space:]@]+\.[^[:space:]@]+$' THEN 'EMAIL'
    WHEN v ~* '^https?://' THEN 'URL'
    WHEN v ~ '^\+?[0-9 ()./-]{6,40}$' AND (
      (v ~ '^\+' AND length(regexp_replace(v, '\D', '', 'g')) BETWEEN 8 AND 15)
      OR key ~* 'phone|mobile|msisdn|whatsapp|(^|[_. -])(tel|cell|fax|sms)([_. -]|$)') THEN 'PHONE'
    ELSE 'OTHER'
  END::"ValueKind"
  FROM (SELECT btrim(value, E' \t\r\n') AS v) t
$$;

CREATE FUNCTION "normalised_identifier_value"(kind "ValueKind", value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE kind
    WHEN 'EMAIL' THEN lower(v)
    WHEN 'URL' THEN regexp_replace(lower(v), '/+$', '')
    WHEN 'PHONE' THEN CASE
      WHEN v ~ '^\+' AND regexp_replace(v, '\D', '', 'g') <> '' THEN '+' || regexp_replace(replace(v, '(0)', ''), '\D', '', 'g')
      WHEN regexp_replace(v, '\D', '', 'g') <> '' THEN regexp_replace(v, '\D', '', 'g')
      ELSE v END
    ELSE v
  END
  FROM (SELECT btrim(value, E' \t\r\n') AS v) t
$$;

DROP INDEX "identifiers_organization_id_identifier_value_idx";
DROP INDEX "identifiers_organization_id_source_id_identifier_key_identi_idx";

ALTER TABLE "identifiers" ADD COLUMN "normalized_value" VARCHAR(1024),
ADD COLUMN "value_kind" "ValueKind" NOT NULL DEFAULT 'OTHER';

UPDATE "identifiers" SET "value_kind" = "identifier_value_kind"("identifier_key", "identifier_value");
UPDATE "identifiers" SET "normalized_value" = "normalised_identifier_value"("value_kind", "identifier_value");
ALTER TABLE "identifiers" ALTER COLUMN "normalized_value" SET NOT NULL;

-- A merge keeps the identifiers it changed as JSON rows, to restore and compare them
-- when it is undone: they get the new columns too.
CREATE FUNCTION "with_identifier_value_kinds"(rows jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(r || jsonb_build_object('value_kind', k,
    'normalized_value', "normalised_identifier_value"(k, r->>'identifier_value')) ORDER BY n), '[]'::jsonb)
  FROM jsonb_array_elements(rows) WITH ORDINALITY AS e(r, n),
    LATERAL (SELECT "identifier_value_kind"(r->>'identifier_key', r->>'identifier_value') AS k) x
$$;
UPDATE "merges" SET "before" = jsonb_set("before", '{identifiers}', "with_identifier_value_kinds"("before"->'identifiers'))
  WHERE jsonb_typeof("before"->'identifiers') = 'array';
UPDATE "merges" SET "after" = jsonb_set("after", '{identifiers}', "with_identifier_value_kinds"("after"->'identifiers'))
  WHERE jsonb_typeof("after"->'identifiers') = 'array';
DROP FUNCTION "with_identifier_value_kinds"(jsonb);

ALTER TABLE "integration_sources" ADD COLUMN "default_phone_region" VARCHAR(2);
ALTER TABLE "organizations" ADD COLUMN "default_phone_region" VARCHAR(2);

CREATE INDEX "identifiers_organization_id_source_id_identifier_key_normal_idx" ON "identifiers"("organization_id", "source_id", "identifier_key", "normalized_value");
CREATE INDEX "identifiers_organization_id_normalized_value_idx" ON "identifiers"("organization_id", "normalized_value");

-- Matching finds identities by every value they hold, in one organization.
CREATE INDEX "identities_organization_id_external_email_idx" ON "identities"("organization_id", "external_email");
CREATE INDEX "identities_organization_id_external_id_idx" ON "identities"("organization_id", "external_id");
