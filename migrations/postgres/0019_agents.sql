-- Human agents and the handoff lifecycle (docs/agents.md).
--
-- An agent belongs to one tenant, serves named queues, and takes at most `capacity`
-- conversations at once. It signs in with a token of its own (only its SHA-256 is kept).
CREATE TABLE agents (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    queues           TEXT NOT NULL,
    capacity         BIGINT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    token_prefix     TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    -- Assignment takes the agent's row first, so two assignments to one agent queue up
    -- behind each other and never exceed its capacity; ties go to the one served least
    -- recently.
    last_assigned_at BIGINT NOT NULL DEFAULT 0,
    -- When the assigner first found the agent offline while holding conversations;
    -- past the grace period they go back to their queues.
    offline_since    BIGINT,
    deleted_at       BIGINT
);
CREATE INDEX agents_by_tenant ON agents (tenant_id);

-- Per-queue response targets (seconds); a queue without a row has none.
CREATE TABLE agent_queues (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    name                TEXT NOT NULL,
    first_response_secs BIGINT,
    next_response_secs  BIGINT,
    PRIMARY KEY (tenant_id, name)
);

-- A handed-off conversation's place in the queues, written with the turn that enters or
-- leaves human mode (handoff_queue set / cleared); assignment, transfer and requeue
-- change the queue and agent between turns. handoff_waiting_since: the oldest user
-- message no agent has answered yet (the handoff itself counts as one), for the
-- response-time targets; sla_breach_for: the waiting_since whose breach was reported, so
-- each breach is reported once.
ALTER TABLE conversations ADD COLUMN handoff_queue TEXT;
ALTER TABLE conversations ADD COLUMN handoff_agent TEXT;
ALTER TABLE conversations ADD COLUMN handoff_since BIGINT;
ALTER TABLE conversations ADD COLUMN handoff_assigned_at BIGINT;
ALTER TABLE conversations ADD COLUMN handoff_waiting_since BIGINT;
ALTER TABLE conversations ADD COLUMN handoff_first_reply_at BIGINT;
ALTER TABLE conversations ADD COLUMN sla_breach_for BIGINT;
CREATE INDEX conversations_handoff ON conversations (tenant_id, handoff_queue) WHERE handoff_queue IS NOT NULL;
CREATE INDEX conversations_by_agent ON conversations (tenant_id, handoff_agent) WHERE handoff_agent IS NOT NULL;

-- A reply to send as an approved WhatsApp template instead of its text (JSON
-- {name, language}): a timer's message outside the 24-hour customer-service window.
ALTER TABLE outbox ADD COLUMN template TEXT;
