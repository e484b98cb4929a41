-- OAuth 2.1 client credentials (issue 4). A client acts on behalf of the
-- member who registered it, like an API key: its authority is its scopes and
-- that member's current role. Secrets and access tokens are stored only as
-- keyed hashes; credential_index routes a presented client id or token to
-- its organization before the organization is known (kinds `oauth_client`
-- and `oauth_token`).

CREATE TABLE oauth_clients (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id),
    -- The public lookup part of the secret, to recognise it; not the secret.
    secret_lookup     TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    hash_key_id       TEXT NOT NULL,
    hash              BLOB NOT NULL,
    created_by        TEXT NOT NULL REFERENCES users(id),
    created_by_member TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    revoked_at        INTEGER,
    revoked_reason    TEXT
) STRICT;
CREATE INDEX oauth_clients_org ON oauth_clients (org_id, id);
CREATE INDEX oauth_clients_creator ON oauth_clients (org_id, created_by);

CREATE TABLE oauth_tokens (
    lookup      TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    client_id   TEXT NOT NULL REFERENCES oauth_clients(id),
    scopes      TEXT NOT NULL,
    hash_key_id TEXT NOT NULL,
    hash        BLOB NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX oauth_tokens_client ON oauth_tokens (org_id, client_id, expires_at);
