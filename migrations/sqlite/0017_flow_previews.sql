-- Preview versions: a flow text compiled for the console's live widget, so a tenant can
-- talk to a draft through the real runtime before publishing it. Numbered downwards
-- from -1 per flow, so they never meet a published version; a conversation is a preview
-- exactly when its flow_version is negative (kept out of default lists and analytics).
CREATE TABLE flow_previews (
    tenant_id    TEXT NOT NULL,
    flow_id      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    definition   TEXT NOT NULL,
    source       TEXT NOT NULL,
    author       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, flow_id, version)
);
