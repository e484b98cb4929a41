-- Secrets of the deployment that must outlive every key rotation, such as
-- the key of the suppression list's number hashes (suppressions are
-- permanent, so the key that matches them can never change). Each is 32
-- random bytes created once, sealed with the vault's system data key. No
-- tenant data: no row-level security.
CREATE TABLE system_secrets (
    name       TEXT PRIMARY KEY,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
