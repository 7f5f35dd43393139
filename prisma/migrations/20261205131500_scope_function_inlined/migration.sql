-- The organizations of the statement's scope, as one expression with no FROM clause, so
-- PostgreSQL inlines it into the policies' scalar subqueries. Written with a FROM, it
-- was run through the SQL function executor, planned again for each of the ten or so
-- tables a read touches; the policies' cost was mostly that.
CREATE OR REPLACE FUNCTION igs_scope_organizations() RETURNS uuid[]
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
    SELECT CASE
      WHEN coalesce(current_setting('igs.organizations', true), '') IN ('', '*') THEN '{}'::uuid[]
      ELSE string_to_array(current_setting('igs.organizations', true), ',')::uuid[]
    END
  $$;
