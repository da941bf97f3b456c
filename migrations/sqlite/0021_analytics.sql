-- Analytics rollups (docs/analytics.md). Counts, durations, state names and cost only:
-- never message text. The rollup job (src/analytics/rollup.rs) summarises each changed
-- conversation into analytics_conversations and adds the difference from its previous
-- summary to the daily sums, in one transaction, so a month's report reads ~30 rows per
-- flow, version and channel however many conversations there were.

-- One row per (non-preview) conversation: what it currently contributes.
-- `contribution` is the JSON the daily sums were last given for it (per-state counts,
-- latency buckets), so a new summary can subtract exactly what the old one added.
-- `revision` makes a concurrent second summariser's write fail instead of adding twice.
CREATE TABLE analytics_conversations (
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    flow_id         TEXT NOT NULL,
    flow_version    BIGINT NOT NULL,
    channel         TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    waiting_state   TEXT,
    turns           BIGINT NOT NULL,
    cost_micros     BIGINT NOT NULL,
    -- When an open conversation that waits for input becomes abandoned (NULL: never by
    -- itself); the job summarises it again then.
    recheck_at      BIGINT,
    contribution    TEXT NOT NULL,
    revision        BIGINT NOT NULL,
    summarised_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);
CREATE INDEX analytics_conversations_recheck ON analytics_conversations (tenant_id, recheck_at);
CREATE INDEX analytics_conversations_by_flow ON analytics_conversations (tenant_id, flow_id, started_at);

-- Sums per UTC day the conversations started on (days since the Unix epoch), flow,
-- version and channel.
CREATE TABLE analytics_daily (
    tenant_id    TEXT NOT NULL,
    day          BIGINT NOT NULL,
    flow_id      TEXT NOT NULL,
    flow_version BIGINT NOT NULL,
    channel      TEXT NOT NULL,
    started      BIGINT NOT NULL,
    contained    BIGINT NOT NULL,
    handed_off   BIGINT NOT NULL,
    abandoned    BIGINT NOT NULL,
    turns        BIGINT NOT NULL,
    cost_micros  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, flow_id, flow_version, channel)
);

-- The same, per flow state: visits, answers, re-prompts, fallbacks, drop-offs, cost.
CREATE TABLE analytics_state_daily (
    tenant_id    TEXT NOT NULL,
    day          BIGINT NOT NULL,
    flow_id      TEXT NOT NULL,
    flow_version BIGINT NOT NULL,
    channel      TEXT NOT NULL,
    state        TEXT NOT NULL,
    visits       BIGINT NOT NULL,
    answers      BIGINT NOT NULL,
    reprompts    BIGINT NOT NULL,
    fallbacks    BIGINT NOT NULL,
    dropoffs     BIGINT NOT NULL,
    cost_micros  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, flow_id, flow_version, channel, state)
);

-- Latency histograms (`metric` = first_reply or turn): how many durations fell in each
-- logarithmic bucket; percentiles are read from them.
CREATE TABLE analytics_latency_daily (
    tenant_id    TEXT NOT NULL,
    day          BIGINT NOT NULL,
    flow_id      TEXT NOT NULL,
    flow_version BIGINT NOT NULL,
    channel      TEXT NOT NULL,
    metric       TEXT NOT NULL,
    bucket       BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, flow_id, flow_version, channel, metric, bucket)
);

-- Per tenant: conversations updated at or before (through_ms, through_id) are summarised.
CREATE TABLE analytics_watermarks (
    tenant_id  TEXT PRIMARY KEY,
    through_ms BIGINT NOT NULL,
    through_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
