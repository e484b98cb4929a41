-- Foundation schema (SQLite, the embedded default).
-- Times are INTEGER microseconds since the Unix epoch (UTC) on both backends;
-- see docs/adr/0002-one-sql-dialect-for-two-backends.md.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    contact_email TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Finds a person by address before any organization is known (invitations,
-- later sign-in). Holds a hash of the address, not the address.
CREATE TABLE user_directory (
    email_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id)
) STRICT;

CREATE TABLE memberships (
    -- Per-organization id (mem_): the API never shows the global user id,
    -- which would tell one tenant that a person exists in another.
    id         TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL REFERENCES organizations(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    -- The name this organization knows the person by; the person's name in
    -- another organization is that organization's data.
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    status     TEXT NOT NULL CHECK (status IN ('active', 'invited')),
    invited_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    lookup         TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    hash_key_id    TEXT NOT NULL,
    hash           BLOB NOT NULL,
    created_by     TEXT NOT NULL REFERENCES users(id),
    created_by_member TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    last_used_at   INTEGER,
    revoked_at     INTEGER,
    revoked_reason TEXT
) STRICT;
CREATE INDEX api_keys_org ON api_keys (org_id, id);
CREATE INDEX api_keys_creator ON api_keys (org_id, created_by);

-- Routes a presented bearer token's public lookup id to its organization
-- before the organization is known. Holds no secret.
CREATE TABLE credential_index (
    lookup TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    kind   TEXT NOT NULL
) STRICT;

CREATE TABLE bootstrap_tokens (
    lookup      TEXT PRIMARY KEY,
    hash_key_id TEXT NOT NULL,
    hash        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    org_id      TEXT
) STRICT;

-- Fingerprints of the keys this database was initialized with, so a server
-- started with a missing or different key refuses to run.
CREATE TABLE key_fingerprints (
    purpose    TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_heads (
    org_id TEXT PRIMARY KEY REFERENCES organizations(id),
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL
) STRICT;

CREATE TABLE audit_events (
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    occurred_at INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    outcome     TEXT NOT NULL,
    request_id  TEXT,
    ip          TEXT,
    user_agent  TEXT,
    method      TEXT,
    route       TEXT,
    details     TEXT NOT NULL,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (org_id, seq)
) STRICT;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
