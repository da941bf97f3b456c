-- The web widget's per-tenant settings: the secret that signs identity tokens (JWT,
-- HS256) for `Switchboard.identify(token)`. Encrypted at rest (AES-256-GCM,
-- `security.secrets_key`) and never returned by the API.
CREATE TABLE widget_settings (
    tenant_id                 TEXT PRIMARY KEY REFERENCES tenants(id),
    identity_secret_encrypted TEXT NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);
