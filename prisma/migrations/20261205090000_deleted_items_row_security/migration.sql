-- Deleted objects belong to their organization like the live ones (migration
-- row_level_security): the same policy.
ALTER TABLE deleted_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_scope ON deleted_items
  USING ((SELECT igs_scope_all()) OR organization_id = ANY (CAST((SELECT igs_scope_organizations()) AS uuid[])));
