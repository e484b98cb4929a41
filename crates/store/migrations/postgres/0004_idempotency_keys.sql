-- Responses of POST requests sent with an Idempotency-Key, kept 24 hours so
-- a retry replays the first answer instead of acting twice. The client's
-- key is stored only as a hash.
CREATE TABLE idempotency_keys (
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    key_hash     BYTEA NOT NULL,
    fingerprint  BYTEA NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       INTEGER,
    content_type TEXT,
    body         BYTEA,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (org_id, key_hash)
);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));
