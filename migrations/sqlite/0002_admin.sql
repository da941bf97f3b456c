-- Admin API: API keys (hashed), flow drafts, adaptors (secrets encrypted), audit log.

ALTER TABLE tenants ADD COLUMN allow_private_adaptors INTEGER NOT NULL DEFAULT 0;

ALTER TABLE flows ADD COLUMN draft_source TEXT;
ALTER TABLE flows ADD COLUMN draft_etag TEXT;
ALTER TABLE flows ADD COLUMN draft_author TEXT;
-- Deleted flows keep their versions for the conversations still running them.
ALTER TABLE flows ADD COLUMN deleted_at INTEGER;

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    -- SHA-256 of the whole key: keys are 256-bit random, so a fast hash is enough and
    -- lets a request find its key by hash. The key itself is shown once, never stored.
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

CREATE TABLE adaptors (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    spec             TEXT NOT NULL,
    -- AES-256-GCM ciphertext (nonce || ciphertext, base64) of the adaptor's secret.
    secret_encrypted TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, created_at);
