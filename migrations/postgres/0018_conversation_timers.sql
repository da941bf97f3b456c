-- Durable timers, stored with their conversation: a `collect` with a `timeout` sets
-- timer_due_at in the same commit as the turn that asked the question, and the turn
-- that consumes it clears it. Nodes claim due timers by raising timer_claimed_until
-- (one winner per claim window), then deliver the timer to the conversation's owner;
-- a claim that is never consumed is claimed again once it lapses. A waiting timer
-- costs its two columns, no memory.
ALTER TABLE conversations ADD COLUMN timer_due_at BIGINT;
ALTER TABLE conversations ADD COLUMN timer_claimed_until BIGINT;
CREATE INDEX conversations_timers ON conversations (timer_due_at) WHERE timer_due_at IS NOT NULL;
