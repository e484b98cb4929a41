-- Foundation schema (PostgreSQL, the scale-out backend).
-- Times are BIGINT microseconds since the Unix epoch (UTC) on both backends;
-- see docs/adr/0002-one-sql-dialect-for-two-backends.md.
--
-- Every tenant table has row-level security, forced so that even the table
-- owner is subject to it. Policies compare against the transaction-local
-- setting app.org_id, which the storage layer sets with
-- set_config('app.org_id', $1, true) at the start of each transaction. When
-- it is unset, current_setting(..., true) is NULL or '' and no row matches:
-- a query that forgot its organization sees nothing and writes nothing.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    contact_email TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_directory (
    email_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id)
);

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
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    lookup         TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    hash_key_id    TEXT NOT NULL,
    hash           BYTEA NOT NULL,
    created_by     TEXT NOT NULL REFERENCES users(id),
    created_by_member TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    last_used_at   BIGINT,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX api_keys_org ON api_keys (org_id, id);
CREATE INDEX api_keys_creator ON api_keys (org_id, created_by);

CREATE TABLE credential_index (
    lookup TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    kind   TEXT NOT NULL
);

CREATE TABLE bootstrap_tokens (
    lookup      TEXT PRIMARY KEY,
    hash_key_id TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    org_id      TEXT
);

CREATE TABLE key_fingerprints (
    purpose    TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_heads (
    org_id TEXT PRIMARY KEY REFERENCES organizations(id),
    seq    BIGINT NOT NULL,
    hash   BYTEA NOT NULL
);

CREATE TABLE audit_events (
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    seq         BIGINT NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    occurred_at BIGINT NOT NULL,
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
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE FUNCTION tollgate_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION tollgate_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_refuse_change();

-- Row-level security on every tenant table.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = current_setting('app.org_id', true))
    WITH CHECK (id = current_setting('app.org_id', true));

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

-- A person is visible to an organization they belong to. Creating one needs
-- an organization context (an invitation or the bootstrap).
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (EXISTS (
        SELECT 1 FROM memberships m
        WHERE m.user_id = users.id AND m.org_id = current_setting('app.org_id', true)))
    WITH CHECK (coalesce(current_setting('app.org_id', true), '') <> '');
