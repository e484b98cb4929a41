-- Envelope encryption (issue 6). Each organization, and the system scope
-- (org_id NULL: secrets of a person such as a TOTP seed), has data keys
-- (DEKs); a DEK is stored only wrapped by a key-encryption key (KEK) that
-- never enters the database. A DEK may be wrapped by several KEKs at once:
-- during a KEK rotation every DEK gains a wrap under the new KEK before the
-- old wraps are removed, so nodes holding either KEK keep working.
-- Sealed values name their DEK by id; a DEK is retired (its wraps deleted)
-- only when no sealed value references it.

CREATE TABLE data_keys (
    -- 32 hex digits: the key id written into every value it seals.
    id         TEXT PRIMARY KEY,
    org_id     TEXT REFERENCES organizations(id),
    status     TEXT NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
-- One active key per scope; concurrent first seals race on this index.
CREATE UNIQUE INDEX data_keys_one_active ON data_keys ((coalesce(org_id, ''))) WHERE status = 'active';
CREATE INDEX data_keys_org ON data_keys (org_id, status);

CREATE TABLE data_key_wraps (
    key_id     TEXT NOT NULL REFERENCES data_keys(id),
    org_id     TEXT REFERENCES organizations(id),
    kek_id     TEXT NOT NULL,
    wrapped    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, kek_id)
);
CREATE INDEX data_key_wraps_kek ON data_key_wraps (kek_id);

-- A DEK rotation's progress: the background re-encryption walks each
-- encrypted column in record-id order and persists its cursor after every
-- batch, so a crash resumes where it stopped.
CREATE TABLE dek_rotations (
    new_key_id  TEXT PRIMARY KEY REFERENCES data_keys(id),
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    column_name TEXT NOT NULL,
    after_record TEXT NOT NULL,
    resealed    BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX dek_rotations_one_running ON dek_rotations (org_id) WHERE finished_at IS NULL;

-- Provider credentials (voice platforms, telephony, DNC data). The secret
-- fields are one sealed JSON object; only the last four characters of the
-- main secret are kept in the clear, to recognise it.
CREATE TABLE provider_credentials (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    kind          TEXT NOT NULL,
    label         TEXT NOT NULL,
    secret_sealed BYTEA NOT NULL,
    last_four     TEXT NOT NULL,
    policy        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX provider_credentials_org ON provider_credentials (org_id, id);

-- Organization keys are tenant data; system keys (org_id NULL) are visible
-- in any transaction, since they are useless without the KEK and a person's
-- secrets are read before or across organizations.
ALTER TABLE data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON data_keys
    USING (org_id IS NULL OR org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id IS NULL OR org_id = current_setting('app.org_id', true));

ALTER TABLE data_key_wraps ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_key_wraps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON data_key_wraps
    USING (org_id IS NULL OR org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id IS NULL OR org_id = current_setting('app.org_id', true));

ALTER TABLE dek_rotations ENABLE ROW LEVEL SECURITY;
ALTER TABLE dek_rotations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dek_rotations
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE provider_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON provider_credentials
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));
