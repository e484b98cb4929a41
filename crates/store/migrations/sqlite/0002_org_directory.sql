-- The list of organization ids, for operator tasks that walk every tenant
-- (audit verification). It holds ids only: no names, no tenant data.
CREATE TABLE org_directory (
    org_id     TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;

INSERT INTO org_directory (org_id, created_at)
SELECT org_id, used_at FROM bootstrap_tokens WHERE org_id IS NOT NULL;
