-- A merge that touched no organization belongs to no tenant, as an audit event of no
-- organization does: visible wherever its users are (the rule readableMergesOf applies
-- on both databases; the embedded one has no policies). The first policy hid it from
-- every viewer scoped to organizations, so the two databases answered differently.
DROP POLICY organization_scope ON merges;
CREATE POLICY organization_scope ON merges
  USING (cardinality(organization_ids) = 0 OR (SELECT igs_scope_all()) OR organization_ids && (SELECT igs_scope_organizations()));
