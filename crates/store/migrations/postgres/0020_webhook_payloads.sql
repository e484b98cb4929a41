-- Issue 10: an endpoint receives thin payloads (ids and codes only) unless
-- an admin opts it into rich ones, whose free text is always redacted.
ALTER TABLE webhook_endpoints ADD COLUMN payload TEXT NOT NULL DEFAULT 'thin'
    CHECK (payload IN ('thin', 'rich'));
