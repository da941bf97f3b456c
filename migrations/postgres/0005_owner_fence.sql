-- Cluster mode: the fencing token of the conversation's current owner. Every write of a
-- conversation actor raises it to the actor's own token in the same transaction and fails
-- when it is already higher, so a node that lost its lease can no longer write.
ALTER TABLE conversations ADD COLUMN owner_fence BIGINT NOT NULL DEFAULT 0;
