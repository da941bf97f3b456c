-- Experiments (docs/analytics.md): a flow's new conversations split across versions by
-- weight. `arms` is JSON: [{"version": 3, "weight": 50}, …]. At most one experiment of
-- a flow runs at a time; a stopped one keeps its arms and, once promoted, its winner.
CREATE TABLE experiments (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    flow_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    arms       TEXT NOT NULL,
    status     TEXT NOT NULL,
    winner     BIGINT,
    created_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    stopped_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX experiments_one_running ON experiments (tenant_id, flow_id) WHERE status = 'running';
