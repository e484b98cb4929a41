-- Responses of POST requests sent with an Idempotency-Key, kept 24 hours so
-- a retry replays the first answer instead of acting twice. The client's
-- key is stored only as a hash.
CREATE TABLE idempotency_keys (
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    key_hash     BLOB NOT NULL,
    fingerprint  BLOB NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       INTEGER,
    content_type TEXT,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    PRIMARY KEY (org_id, key_hash)
) STRICT;
