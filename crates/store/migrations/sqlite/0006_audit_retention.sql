-- Retention of the audit log per organization (issue: the audit log).
-- Days before events may be pruned; HIPAA organizations keep 7 years.
ALTER TABLE organizations ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE organizations ADD COLUMN hipaa INTEGER NOT NULL DEFAULT 0;

-- Where a chain was cut: events up to through_seq were removed, and the
-- signed checkpoint at through_seq authenticates where verification resumes.
CREATE TABLE audit_prunes (
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    through_seq  INTEGER NOT NULL,
    through_hash BLOB NOT NULL,
    pruned_at    INTEGER NOT NULL,
    removed      INTEGER NOT NULL,
    PRIMARY KEY (org_id, through_seq)
) STRICT;
