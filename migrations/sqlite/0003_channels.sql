-- Channels (WhatsApp, Slack, Teams): accounts, one conversation per provider thread, and
-- the transactional outbox of replies to deliver.

CREATE TABLE channel_accounts (
    -- The {channel_id} of the webhook URL; unique across tenants.
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    provider          TEXT NOT NULL,
    -- JSON of the non-secret settings (phone_number_id, app_id, …).
    config            TEXT NOT NULL,
    -- AES-256-GCM of a JSON object of the provider secrets; never returned.
    secrets_encrypted TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX channel_accounts_by_tenant ON channel_accounts (tenant_id);

ALTER TABLE conversations ADD COLUMN channel_account TEXT;
-- JSON of where replies go (the provider's thread), from the latest inbound message.
ALTER TABLE conversations ADD COLUMN reply_to TEXT;
-- One conversation per provider thread: concurrent first deliveries cannot fork it.
CREATE UNIQUE INDEX conversations_channel_thread
    ON conversations (tenant_id, channel_account, external_user)
    WHERE channel_account IS NOT NULL;

-- Replies of channel conversations, written in the same transaction as the message, so
-- none is lost if the node dies before delivering it.
CREATE TABLE outbox (
    message_id          TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    conversation_id     TEXT NOT NULL,
    channel_account     TEXT NOT NULL,
    seq                 INTEGER NOT NULL,
    text                TEXT NOT NULL,
    -- pending | sent | failed
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    provider_message_id TEXT,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX outbox_pending ON outbox (channel_account, status, conversation_id, seq);
