-- A decision is only ever read by its id (with its organization, which
-- the id's primary key finds at once), so the second index on it,
-- (org_id, id), served no query. Every dial check inserted into it: one
-- more B-tree touched and written per commit of the gate's group.
DROP INDEX dial_checks_org;
