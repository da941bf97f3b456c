-- Metering: one row per model call (a streamed reply or an extraction), with the tokens
-- it used, where they were counted, and its cost in integer micro-units of the configured
-- currency. `started_at` is Unix milliseconds.
CREATE TABLE model_calls (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT,
    flow_id         TEXT,
    flow_version    BIGINT,
    state           TEXT,
    channel         TEXT,
    kind            TEXT NOT NULL,
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    error_code      TEXT,
    tokens_in       BIGINT NOT NULL,
    tokens_out      BIGINT NOT NULL,
    usage_source    TEXT NOT NULL,
    first_token_ms  BIGINT,
    latency_ms      BIGINT NOT NULL,
    cost_micros     BIGINT NOT NULL,
    started_at      BIGINT NOT NULL
);
CREATE INDEX model_calls_by_tenant ON model_calls (tenant_id, started_at);
CREATE INDEX model_calls_by_conversation ON model_calls (tenant_id, conversation_id, started_at);

-- The same calls summed per UTC day (days since the Unix epoch), flow and model, written
-- in the same transaction as the calls: a month's total reads ~30 rows per flow and model
-- however many calls there were. `flow_id` is '' for calls outside a flow (simulations).
CREATE TABLE model_usage_daily (
    tenant_id   TEXT NOT NULL,
    day         BIGINT NOT NULL,
    flow_id     TEXT NOT NULL,
    model       TEXT NOT NULL,
    calls       BIGINT NOT NULL,
    tokens_in   BIGINT NOT NULL,
    tokens_out  BIGINT NOT NULL,
    cost_micros BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, flow_id, model)
);
