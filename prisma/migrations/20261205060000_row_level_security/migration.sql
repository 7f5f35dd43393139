-- Row-level security: every table that belongs to an organization shows and accepts
-- only rows of the organizations the current statement is scoped to, so a query that
-- forgets its organization filter finds nothing foreign. The scope is the setting
-- `igs.organizations`: '*' for the server's own work (authentication, background jobs),
-- else a comma-separated list of organization ids, set by the server per statement
-- (src/db/scope.ts); unset or empty means none. The table owner (who runs migrations)
-- and superusers are not subject to these policies; the server runs as a member of
-- identity_graph_app, which owns nothing (README "Database roles").

CREATE FUNCTION igs_scope_all() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT current_setting('igs.organizations', true) = '*' $$;

CREATE FUNCTION igs_scope_organizations() RETURNS uuid[]
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
    SELECT CASE WHEN s IS NULL OR s IN ('', '*') THEN '{}'::uuid[] ELSE string_to_array(s, ',')::uuid[] END
    FROM (SELECT current_setting('igs.organizations', true) AS s) AS setting
  $$;

-- The two functions are read through scalar subqueries, which PostgreSQL evaluates
-- once per statement rather than once per row.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'members', 'integration_sources', 'identifiers', 'identities', 'identity_properties',
    'api_keys', 'link_suggestions', 'webhook_endpoints', 'webhook_deliveries',
    'webhook_attempts', 'members_history', 'integration_sources_history', 'identifiers_history',
    'identities_history', 'identity_properties_history'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY organization_scope ON %I USING ((SELECT igs_scope_all()) OR organization_id = ANY (CAST((SELECT igs_scope_organizations()) AS uuid[])))',
      t
    );
  END LOOP;
  FOREACH t IN ARRAY ARRAY['organizations', 'organizations_history'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY organization_scope ON %I USING ((SELECT igs_scope_all()) OR id = ANY (CAST((SELECT igs_scope_organizations()) AS uuid[])))',
      t
    );
  END LOOP;
  -- An event of no organization (a user's own record) belongs to no tenant.
  ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
  CREATE POLICY organization_scope ON audit_events
    USING (organization_id IS NULL OR (SELECT igs_scope_all()) OR organization_id = ANY (CAST((SELECT igs_scope_organizations()) AS uuid[])));
  -- A merge record names every organization it touched; it is visible where any is.
  ALTER TABLE merges ENABLE ROW LEVEL SECURITY;
  CREATE POLICY organization_scope ON merges
    USING ((SELECT igs_scope_all()) OR organization_ids && (SELECT igs_scope_organizations()));
END $$;

-- The role the server runs as: it may read and write rows, not change the schema, and
-- never bypasses the policies above. Created here when the migrating role may create
-- roles; otherwise an administrator creates it (README "Database roles"). Default
-- privileges give it the tables later migrations create.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'identity_graph_app') THEN
    BEGIN
      CREATE ROLE identity_graph_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'identity_graph_app was not created (this role may not create roles); see README "Database roles"';
      WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'identity_graph_app') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO identity_graph_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO identity_graph_app', current_schema());
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO identity_graph_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO identity_graph_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO identity_graph_app', current_schema());
    -- The webhook job queue (pg-boss) reads and writes its own tables.
    GRANT USAGE ON SCHEMA pgboss TO identity_graph_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgboss TO identity_graph_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA pgboss GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO identity_graph_app;
  END IF;
END $$;
