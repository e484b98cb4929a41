-- Do-not-call data (issue 8): which provider credential an organization's
-- gate asks, the incidents that pause its dialing while DNC data is
-- unavailable, and the deployment's imported registry versions.

-- The organization's real-time DNC provider: one of its own
-- `dnc_provider` credentials. NULL: the local registry index is used.
ALTER TABLE gate_settings ADD COLUMN dnc_provider_credential_id TEXT;

-- A lead's DNC check at intake (JSON: when, the reasons, the list versions
-- used), shown with the lead; every dial checks again.
ALTER TABLE leads ADD COLUMN intake_dnc TEXT;

-- An incident: a DNC source (the provider, or a local list) failed for this
-- organization, so the dials that need it are denied `dnc_provider_down`
-- until the source has been healthy for the configured period. At most one
-- open incident per organization and source.
CREATE TABLE dnc_incidents (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    -- `provider:<credential id>` or `list:<list name>`.
    source      TEXT NOT NULL,
    -- The first failure's cause (never a number or a secret).
    cause       TEXT NOT NULL,
    opened_at   BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE UNIQUE INDEX dnc_incidents_open ON dnc_incidents (org_id, source) WHERE resolved_at IS NULL;
CREATE INDEX dnc_incidents_org ON dnc_incidents (org_id, opened_at);

ALTER TABLE dnc_incidents ENABLE ROW LEVEL SECURITY;
ALTER TABLE dnc_incidents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dnc_incidents
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

-- Imported registry versions (the national list, state lists, any named
-- list), deployment-wide: the registries are public data bought once for
-- the deployment and shared by every organization, so this table holds no
-- tenant data and has no row-level security (it has no org_id; the
-- PostgreSQL isolation test names it among its exceptions). Exactly one
-- row per list is current: every node serves that version and no other.
CREATE TABLE dnc_list_versions (
    id           TEXT PRIMARY KEY,
    list         TEXT NOT NULL,
    -- The list's version date (YYYY-MM-DD): the newest area code's date.
    version      TEXT NOT NULL,
    -- JSON object: area code -> version date of that area code's data.
    area_codes   TEXT NOT NULL,
    -- The index file's name inside the DNC directory, and its SHA-256 (hex).
    file_name    TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    numbers      BIGINT NOT NULL,
    imported_at  BIGINT NOT NULL,
    current      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX dnc_list_versions_current ON dnc_list_versions (list) WHERE current;
CREATE INDEX dnc_list_versions_list ON dnc_list_versions (list, imported_at);
