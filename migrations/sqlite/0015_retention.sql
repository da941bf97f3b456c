-- Retention: how long a tenant keeps what was said (events), when it wants less than
-- the configured default (retention.default_event_days). The retention job deletes
-- events older than that, in bounded batches, oldest first.
CREATE TABLE tenant_retention (
    tenant_id  TEXT PRIMARY KEY,
    event_days INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The retention job and erasure find a tenant's oldest events through this index.
CREATE INDEX events_by_tenant_time ON events (tenant_id, created_at);
