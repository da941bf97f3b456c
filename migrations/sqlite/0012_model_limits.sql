-- Rate limits of a tenant's model calls, per minute across the cluster (NULL: none).
-- on_limit: `wait` (until the next minute, if that is within max_wait_ms) or `message`
-- (the user is told `message`, or a default).
CREATE TABLE model_limits (
    tenant_id           TEXT PRIMARY KEY,
    requests_per_minute BIGINT,
    tokens_per_minute   BIGINT,
    on_limit            TEXT NOT NULL,
    max_wait_ms         BIGINT NOT NULL,
    message             TEXT,
    updated_at          BIGINT NOT NULL,
    updated_by          TEXT NOT NULL
);
