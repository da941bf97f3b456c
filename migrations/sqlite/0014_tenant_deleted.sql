-- Soft deletion: a deleted tenant is hidden everywhere (admin API, keys, web chat,
-- webhooks) from `deleted_at` (ms) on, until the operator restores it or the retention
-- job purges its rows.
ALTER TABLE tenants ADD COLUMN deleted_at BIGINT;
CREATE INDEX tenants_deleted_at ON tenants (deleted_at);
