-- Retention of the audit log per organization (issue: the audit log).
-- Days before events may be pruned; HIPAA organizations keep 7 years.
ALTER TABLE organizations ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE organizations ADD COLUMN hipaa BOOLEAN NOT NULL DEFAULT false;

-- Where a chain was cut: events up to through_seq were removed, and the
-- signed checkpoint at through_seq authenticates where verification resumes.
CREATE TABLE audit_prunes (
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    through_seq  BIGINT NOT NULL,
    through_hash BYTEA NOT NULL,
    pruned_at    BIGINT NOT NULL,
    removed      BIGINT NOT NULL,
    PRIMARY KEY (org_id, through_seq)
);
ALTER TABLE audit_prunes ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_prunes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_prunes
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

-- Pruning is the one deletion of audit events, done by the owner role (the
-- application role has no DELETE privilege at all) inside a transaction that
-- declares it. Anything else is still refused.
CREATE OR REPLACE FUNCTION tollgate_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_events'
       AND current_setting('tollgate.pruning', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
