-- Switchboard schema, SQLite dialect. Keep in step with migrations/postgres.
-- Ids are TEXT, timestamps are INTEGER unix milliseconds, JSON is TEXT.

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    entry_flow      TEXT NOT NULL,
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL
);

CREATE TABLE flows (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    id             TEXT NOT NULL,
    active_version INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE flow_versions (
    tenant_id    TEXT NOT NULL,
    flow_id      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    definition   TEXT NOT NULL,
    source       TEXT NOT NULL,
    author       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, flow_id, version),
    FOREIGN KEY (tenant_id, flow_id) REFERENCES flows(tenant_id, id)
);

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    channel       TEXT NOT NULL,
    external_user TEXT NOT NULL,
    flow_id       TEXT NOT NULL,
    flow_version  INTEGER NOT NULL,
    dialog_state  TEXT NOT NULL,
    status        TEXT NOT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    applied_seq   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX conversations_by_tenant ON conversations (tenant_id, updated_at);
CREATE INDEX conversations_by_user ON conversations (tenant_id, channel, external_user);

-- Durable conversation events. seq is per conversation, gap-free, assigned by the
-- conversation actor (the single writer); the primary key makes a second writer fail.
CREATE TABLE events (
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    role            TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Inbound messages already processed: web chat client ids and, later, provider event ids.
CREATE TABLE inbound_dedup (
    tenant_id       TEXT NOT NULL,
    source          TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, source, dedup_key)
);

-- Node-wide secrets generated on first start (e.g. the visitor token key), shared by
-- every node of a cluster through the database.
CREATE TABLE node_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
