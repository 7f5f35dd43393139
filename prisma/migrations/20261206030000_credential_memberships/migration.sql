-- Every membership of a user, as one text (organization:role:state, by organization):
-- what a token used in no one organization was found to be. The request's compiled
-- read compares it with what it remembers, inside its own statement, whose scope
-- names only the organizations remembered; the function reads for the server, as
-- authentication does, so a membership of another organization is seen too.
CREATE FUNCTION igs_memberships_of(member_user_id uuid) RETURNS text
  LANGUAGE sql STABLE
  SET igs.organizations = '*'
  AS $$
    SELECT coalesce(string_agg(m.organization_id::text || ':' || m.role::text || ':' || m.state::text, ',' ORDER BY m.organization_id), '')
    FROM members m
    WHERE m.user_id = member_user_id
  $$;
