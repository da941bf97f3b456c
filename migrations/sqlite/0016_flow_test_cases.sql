-- Saved test cases of a flow: user turns replayed through the simulator, and the bot
-- messages they must produce (JSON arrays of strings; stubs as a JSON object).
CREATE TABLE flow_test_cases (
    tenant_id     TEXT NOT NULL,
    flow_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    turns         TEXT NOT NULL,
    expected      TEXT NOT NULL,
    adaptor_stubs TEXT NOT NULL DEFAULT '{}',
    -- The conversation it was saved from, if any.
    conversation_id TEXT,
    created_by    TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, flow_id, name)
);
