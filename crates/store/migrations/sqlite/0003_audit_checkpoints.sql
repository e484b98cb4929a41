-- Signed checkpoints of each organization's audit chain (see
-- crates/core/src/checkpoint.rs). Append-only, like the events.
CREATE TABLE audit_checkpoints (
    org_id     TEXT NOT NULL REFERENCES organizations(id),
    seq        INTEGER NOT NULL,
    head_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    key_id     TEXT NOT NULL,
    signature  TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
) STRICT;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
