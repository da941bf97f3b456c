-- Budgets and credits of model spend, per tenant (flow_id '') and optionally per flow.
-- period: `day` or `month` (UTC) with `limit_micros`, enforced before each call when
-- `hard` is 1 (else only alerted on); or `credits` (tenant-wide only, always enforced):
-- prepaid, `credit_micros` is the total topped up. `thresholds` is a JSON array of percents that raise an alert once per
-- period. `message` is what the user is told when the hard limit stops a call.
CREATE TABLE budgets (
    tenant_id     TEXT NOT NULL,
    flow_id       TEXT NOT NULL,
    period        TEXT NOT NULL,
    limit_micros  BIGINT,
    hard          BIGINT NOT NULL DEFAULT 1,
    credit_micros BIGINT NOT NULL DEFAULT 0,
    thresholds    TEXT NOT NULL,
    message       TEXT,
    updated_at    BIGINT NOT NULL,
    updated_by    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, flow_id)
);

-- Spend per budget and period (`2026-11-30`, `2026-11` or `credits`): settled cost and
-- what calls in flight have reserved. A call is admitted by one conditional UPDATE
-- (spent + reserved + its reservation within the allowance), atomic across nodes.
CREATE TABLE budget_spend (
    tenant_id       TEXT NOT NULL,
    flow_id         TEXT NOT NULL,
    period_key      TEXT NOT NULL,
    spent_micros    BIGINT NOT NULL DEFAULT 0,
    reserved_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, flow_id, period_key)
);

-- Alerts already raised: a threshold (percent; 0 = exhausted) once per budget and period.
CREATE TABLE budget_alerts_sent (
    tenant_id  TEXT NOT NULL,
    flow_id    TEXT NOT NULL,
    period_key TEXT NOT NULL,
    threshold  BIGINT NOT NULL,
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, flow_id, period_key, threshold)
);

-- Every top-up (positive) and debit (negative, one per settled model call) of credits.
CREATE TABLE credit_ledger (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    note          TEXT,
    reference     TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX credit_ledger_by_tenant ON credit_ledger (tenant_id, created_at);
