-- OAuth 2.1 client credentials (issue 4). A client acts on behalf of the
-- member who registered it, like an API key: its authority is its scopes and
-- that member's current role. Secrets and access tokens are stored only as
-- keyed hashes; the global credential_index routes a presented client id or
-- token to its organization before the organization is known (kinds
-- `oauth_client` and `oauth_token`). Both tables are tenant tables under
-- forced row-level security.

CREATE TABLE oauth_clients (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id),
    -- The public lookup part of the secret, to recognise it; not the secret.
    secret_lookup     TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    hash_key_id       TEXT NOT NULL,
    hash              BYTEA NOT NULL,
    created_by        TEXT NOT NULL REFERENCES users(id),
    created_by_member TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    revoked_at        BIGINT,
    revoked_reason    TEXT
);
CREATE INDEX oauth_clients_org ON oauth_clients (org_id, id);
CREATE INDEX oauth_clients_creator ON oauth_clients (org_id, created_by);

CREATE TABLE oauth_tokens (
    lookup      TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    client_id   TEXT NOT NULL REFERENCES oauth_clients(id),
    scopes      TEXT NOT NULL,
    hash_key_id TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX oauth_tokens_client ON oauth_tokens (org_id, client_id, expires_at);

ALTER TABLE oauth_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON oauth_clients
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE oauth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON oauth_tokens
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));
