-- Signed webhooks (issue 10): endpoints, their signing secrets (sealed with
-- the organization's data key), the durable outbox of messages, one
-- delivery per message and endpoint, and every HTTP attempt.
--
-- Messages and deliveries are written in the transaction of the change
-- that caused them. Workers claim due deliveries through webhook_queue.

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id),
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    -- JSON object of custom header names to values.
    headers         TEXT NOT NULL,
    -- Why the sender disabled it (`gone`, `failing`), or NULL.
    disabled_reason TEXT,
    -- Start of the current run of failures with no success since, or NULL.
    failing_since   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, id);

-- Which event types an endpoint receives (the catalogue is in the code).
CREATE TABLE webhook_endpoint_events (
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
) STRICT;
CREATE INDEX webhook_endpoint_events_type ON webhook_endpoint_events (org_id, event_type);

-- Signing secrets: the current one (expires_at NULL) and retiring ones,
-- which keep signing until expires_at.
CREATE TABLE webhook_secrets (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    endpoint_id   TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER
) STRICT;
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (org_id, endpoint_id);

-- The outbox: the exact body sent, so every retry signs the same bytes.
CREATE TABLE webhook_messages (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    event_type  TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_messages_org ON webhook_messages (org_id, created_at);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id),
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL REFERENCES webhook_messages(id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
) STRICT;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (org_id, endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    latency_ms       INTEGER NOT NULL,
    -- HTTP status, or NULL when no response came (error says why).
    status           INTEGER,
    error            TEXT,
    response_excerpt TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (org_id, endpoint_id, started_at);

-- The work queue the delivery workers share, across organizations: ids
-- and times only (no tenant data), so it needs no row-level security and a
-- worker can claim before it knows the organization. A row exists while
-- its delivery is pending; lease_until guards one attempt at a time.
CREATE TABLE webhook_queue (
    delivery_id TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX webhook_queue_due ON webhook_queue (due_at);
