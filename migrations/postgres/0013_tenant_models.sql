-- A tenant's own model providers (its own API keys, AES-256-GCM encrypted like adaptor
-- secrets, never returned) and routes over them and the operator's providers.
CREATE TABLE tenant_providers (
    tenant_id         TEXT NOT NULL,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    base_url          TEXT NOT NULL,
    api_version       TEXT NOT NULL,
    api_key_encrypted TEXT,
    updated_at        BIGINT NOT NULL,
    updated_by        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- `targets`: JSON array of "provider:model", tried in turn.
CREATE TABLE tenant_routes (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    targets    TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Prices the operator charges one tenant, over `llm.prices`: JSON object
-- {"model": {"input": micros per million, "output": …}}.
CREATE TABLE tenant_prices (
    tenant_id  TEXT PRIMARY KEY,
    prices     TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
