-- 1 while the conversation waits for a model reply or an adaptor call that is not stored
-- yet: the start-up sweep drives such conversations to their answer after a restart or a
-- takeover, without waiting for the user to write again.
ALTER TABLE conversations ADD COLUMN pending_work INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET pending_work = 1
 WHERE dialog_state LIKE '%"pending_llm":{%' OR dialog_state LIKE '%"pending_call":{%';
CREATE INDEX conversations_pending_work ON conversations (pending_work) WHERE pending_work = 1;
