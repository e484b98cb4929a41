-- Human sign-in (issue 3): emailed links with a one-time code, cookie
-- sessions, TOTP second factors and recovery codes.
--
-- These tables belong to a person, not to a tenant, so they carry no
-- row-level security; every statement on them is keyed by a user id that
-- the storage layer derived from a verified credential. Tokens and codes are
-- stored only as keyed hashes (hash_key_id names the key, so keys rotate).

-- Which organizations a person belongs to, for sign-in and the organization
-- switcher. Ids only: the names stay behind each tenant's RLS.
CREATE TABLE membership_directory (
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id  TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (user_id, org_id)
) STRICT;
INSERT INTO membership_directory (user_id, org_id) SELECT user_id, org_id FROM memberships;

ALTER TABLE organizations ADD COLUMN require_2fa_admins INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sign_in_links (
    lookup        TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    hash_key_id   TEXT NOT NULL,
    hash          BLOB NOT NULL,
    -- The short code in the same email, for signing in on another device.
    code_key_id   TEXT NOT NULL,
    code_hash     BLOB NOT NULL,
    code_attempts INTEGER NOT NULL DEFAULT 0,
    -- An invitation link also activates the membership in org_id.
    purpose       TEXT NOT NULL CHECK (purpose IN ('sign_in', 'invitation')),
    org_id        TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    consumed_at   INTEGER
) STRICT;
CREATE INDEX sign_in_links_user ON sign_in_links (user_id, created_at);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    lookup         TEXT NOT NULL UNIQUE,
    hash_key_id    TEXT NOT NULL,
    hash           BLOB NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id),
    -- The organization the person is working in (the switcher changes it).
    org_id         TEXT REFERENCES organizations(id),
    -- 'full', or a restricted stage before the second factor is done.
    stage          TEXT NOT NULL CHECK (stage IN ('full', 'second_factor', 'enroll')),
    ip             TEXT,
    user_agent     TEXT,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    rotated_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id, created_at);

CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users(id),
    -- The shared secret, sealed (it must be recoverable to check codes).
    secret       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    -- NULL until a valid code proves the person's app holds the secret.
    confirmed_at INTEGER,
    -- The last accepted time step: no step is accepted twice.
    last_step    INTEGER
) STRICT;

CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users(id),
    lookup      TEXT NOT NULL,
    hash_key_id TEXT NOT NULL,
    hash        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (user_id, lookup)
) STRICT;
