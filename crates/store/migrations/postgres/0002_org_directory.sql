-- The list of organization ids, for operator tasks that walk every tenant
-- (audit verification). It holds ids only: no names, no tenant data, so it
-- needs no row-level security. Backfilled from the bootstrap records because
-- the organizations table itself is hidden by forced RLS, even from its owner.
CREATE TABLE org_directory (
    org_id     TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

INSERT INTO org_directory (org_id, created_at)
SELECT org_id, used_at FROM bootstrap_tokens WHERE org_id IS NOT NULL;
