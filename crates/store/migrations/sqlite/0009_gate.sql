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
    max_attempts_per_lead INTEGER,
    -- JSON: [{"max_attempts": n, "window_hours": h}, ...]
    caps                  TEXT NOT NULL,
    paused                INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX campaigns_org ON campaigns (org_id, id);

CREATE TABLE leads (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES organizations(id),
    campaign_id          TEXT REFERENCES campaigns(id),
    phone                TEXT NOT NULL,
    phone_hash           BLOB NOT NULL,
    state                TEXT,
    zip                  TEXT,
    name                 TEXT,
    fields               TEXT NOT NULL,
    consent_type         TEXT NOT NULL,
    consent_at           INTEGER,
    consent_source       TEXT,
    consent_ip           TEXT,
    consent_text         TEXT,
    consent_text_version TEXT,
    consent_captured_by  TEXT,
    ebr_date             INTEGER,
    ebr_kind             TEXT,
    eligible             INTEGER NOT NULL,
    -- JSON array of stable codes; empty when eligible.
    ineligible_reasons   TEXT NOT NULL,
    created_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX leads_org ON leads (org_id, id);

CREATE TABLE suppressions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    number_hash    BLOB NOT NULL,
    hash_key_id    TEXT NOT NULL,
    list           TEXT NOT NULL CHECK (list IN ('suppression', 'internal_dnc')),
    source         TEXT NOT NULL CHECK (source IN ('api', 'dashboard', 'csv', 'opt_out')),
    reason         TEXT,
    created_at     INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    removed_at     INTEGER,
    removed_by     TEXT,
    removed_reason TEXT
) STRICT;
CREATE UNIQUE INDEX suppressions_active ON suppressions (org_id, number_hash, list) WHERE removed_at IS NULL;
CREATE INDEX suppressions_org ON suppressions (org_id, id);

CREATE TABLE dial_checks (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    campaign_id TEXT,
    lead_id     TEXT,
    allowed     INTEGER NOT NULL,
    -- The full decision as returned (JSON), for the "why?" view.
    decision    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX dial_checks_org ON dial_checks (org_id, id);

CREATE TABLE dial_attempts (
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    number_hash  BLOB NOT NULL,
    campaign_id  TEXT NOT NULL,
    lead_id      TEXT,
    check_id     TEXT NOT NULL,
    attempted_at INTEGER NOT NULL
) STRICT;
CREATE INDEX dial_attempts_number ON dial_attempts (org_id, number_hash, attempted_at);
CREATE INDEX dial_attempts_lead ON dial_attempts (org_id, lead_id, campaign_id);

CREATE TABLE gate_settings (
    org_id              TEXT PRIMARY KEY REFERENCES organizations(id),
    paused              INTEGER NOT NULL DEFAULT 0,
    paused_reason       TEXT,
    dnc_ack_at          INTEGER,
    dnc_ack_by          TEXT,
    dnc_ack_statement   TEXT,
    -- Bumped with every change to the suppression list: the list version a
    -- decision reports.
    suppression_version INTEGER NOT NULL DEFAULT 0,
    updated_at          INTEGER NOT NULL
) STRICT;
