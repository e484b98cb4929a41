-- The dial gate (issue 7): leads with consent evidence, campaigns, the
-- suppression list, attempts (for frequency caps), decisions, and per-org
-- gate settings (pause switch, DNC-provider acknowledgment).
--
-- Numbers in suppressions and dial_attempts are keyed hashes (HMAC-SHA256
-- under a key derived from the server's KEK), never the number: a
-- suppression must outlive the erasure of the person's data, and the hash
-- alone does not let a thief of the database enumerate numbers offline.

CREATE TABLE campaigns (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations(id),
    name                  TEXT NOT NULL,
    purpose               TEXT NOT NULL CHECK (purpose IN ('telemarketing', 'informational')),
    channel               TEXT NOT NULL CHECK (channel IN ('voice', 'text')),
    voice                 TEXT NOT NULL CHECK (voice IN ('ai', 'live')),
    -- JSON: seven entries, Monday first, [start_minute, end_minute] or null.
    windows               TEXT,
    max_attempts_per_lead BIGINT,
    -- JSON: [{"max_attempts": n, "window_hours": h}, ...]
    caps                  TEXT NOT NULL,
    paused                BOOLEAN NOT NULL DEFAULT false,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX campaigns_org ON campaigns (org_id, id);

CREATE TABLE leads (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES organizations(id),
    campaign_id          TEXT REFERENCES campaigns(id),
    phone                TEXT NOT NULL,
    phone_hash           BYTEA NOT NULL,
    state                TEXT,
    zip                  TEXT,
    name                 TEXT,
    fields               TEXT NOT NULL,
    consent_type         TEXT NOT NULL,
    consent_at           BIGINT,
    consent_source       TEXT,
    consent_ip           TEXT,
    consent_text         TEXT,
    consent_text_version TEXT,
    consent_captured_by  TEXT,
    ebr_date             BIGINT,
    ebr_kind             TEXT,
    eligible             BOOLEAN NOT NULL,
    -- JSON array of stable codes; empty when eligible.
    ineligible_reasons   TEXT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX leads_org ON leads (org_id, id);

CREATE TABLE suppressions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    number_hash    BYTEA NOT NULL,
    hash_key_id    TEXT NOT NULL,
    list           TEXT NOT NULL CHECK (list IN ('suppression', 'internal_dnc')),
    source         TEXT NOT NULL CHECK (source IN ('api', 'dashboard', 'csv', 'opt_out')),
    reason         TEXT,
    created_at     BIGINT NOT NULL,
    created_by     TEXT NOT NULL,
    removed_at     BIGINT,
    removed_by     TEXT,
    removed_reason TEXT
);
CREATE UNIQUE INDEX suppressions_active ON suppressions (org_id, number_hash, list) WHERE removed_at IS NULL;
CREATE INDEX suppressions_org ON suppressions (org_id, id);

CREATE TABLE dial_checks (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    campaign_id TEXT,
    lead_id     TEXT,
    allowed     BOOLEAN NOT NULL,
    -- The full decision as returned (JSON), for the "why?" view.
    decision    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX dial_checks_org ON dial_checks (org_id, id);

CREATE TABLE dial_attempts (
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    number_hash  BYTEA NOT NULL,
    campaign_id  TEXT NOT NULL,
    lead_id      TEXT,
    check_id     TEXT NOT NULL,
    attempted_at BIGINT NOT NULL
);
CREATE INDEX dial_attempts_number ON dial_attempts (org_id, number_hash, attempted_at);
CREATE INDEX dial_attempts_lead ON dial_attempts (org_id, lead_id, campaign_id);

CREATE TABLE gate_settings (
    org_id              TEXT PRIMARY KEY REFERENCES organizations(id),
    paused              BOOLEAN NOT NULL DEFAULT false,
    paused_reason       TEXT,
    dnc_ack_at          BIGINT,
    dnc_ack_by          TEXT,
    dnc_ack_statement   TEXT,
    -- Bumped with every change to the suppression list: the list version a
    -- decision reports.
    suppression_version BIGINT NOT NULL DEFAULT 0,
    updated_at          BIGINT NOT NULL
);

ALTER TABLE campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaigns FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE leads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON leads
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE suppressions ENABLE ROW LEVEL SECURITY;
ALTER TABLE suppressions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON suppressions
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE dial_checks ENABLE ROW LEVEL SECURITY;
ALTER TABLE dial_checks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dial_checks
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE dial_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE dial_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dial_attempts
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE gate_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE gate_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON gate_settings
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));
