-- Tenants' alert webhooks and the deliveries to them (an outbox: a delivery is a row
-- until it is delivered or given up, so alerts survive restarts).
-- `events`: JSON array of the event types the hook wants (empty: all).
-- `secret_encrypted`: the HMAC signing secret, AES-256-GCM like adaptor secrets.
CREATE TABLE alert_hooks (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    secret_encrypted TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    created_by       TEXT NOT NULL
);
CREATE INDEX alert_hooks_by_tenant ON alert_hooks (tenant_id);

-- status: pending | delivered | failed. A node claims a due delivery by moving its
-- next_attempt_at forward in one conditional UPDATE, so two nodes never send it at once.
CREATE TABLE alert_deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    hook_id         TEXT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
CREATE INDEX alert_deliveries_by_tenant ON alert_deliveries (tenant_id, created_at);
