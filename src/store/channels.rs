//! Channel accounts (a tenant's WhatsApp number, Slack app, Teams bot), the conversation
//! of each provider thread, and the outbox of replies to deliver.

use super::batch::Write;
use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelAccountRow {
    pub id: String,
    pub tenant_id: String,
    pub provider: String,
    /// JSON of the non-secret settings.
    pub config: String,
    /// Encrypted JSON of the secrets; never returned by the API.
    pub secrets_encrypted: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub message_id: String,
    pub tenant_id: String,
    pub conversation_id: String,
    pub channel_account: String,
    pub seq: i64,
    pub text: String,
    pub status: String,
    pub attempts: i64,
    /// JSON `{name, language}`: send this WhatsApp template instead of `text`.
    pub template: Option<String>,
}

/// The outcome of one delivery, owned so it can wait in the group-commit queue.
#[derive(Debug)]
pub(crate) struct OutboxResult {
    pub(super) tenant_id: String,
    pub(super) message_id: String,
    pub(super) status: String,
    pub(super) attempts: i64,
    pub(super) provider_message_id: Option<String>,
    pub(super) last_error: Option<String>,
}

/// Records a delivery attempt's outcome (group commit runs it).
pub(super) const OUTBOX_RESULT_SQL: &str = "UPDATE outbox SET status = $3, attempts = $4, \
     provider_message_id = $5, last_error = $6, updated_at = $7 \
     WHERE tenant_id = $1 AND message_id = $2";

impl OutboxResult {
    pub(crate) async fn record(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(OUTBOX_RESULT_SQL)
            .bind(&self.tenant_id)
            .bind(&self.message_id)
            .bind(&self.status)
            .bind(self.attempts)
            .bind(&self.provider_message_id)
            .bind(&self.last_error)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

const ACCOUNT_COLUMNS: &str =
    "id, tenant_id, provider, config, secrets_encrypted, created_at, updated_at";

impl Store {
    /// Creates or replaces a tenant's channel account. Fails with `Conflict` when another
    /// tenant owns the id. Returns true when created.
    pub async fn put_channel_account(
        &self,
        tenant_id: &str,
        id: &str,
        provider: &str,
        config_json: &str,
        secrets_encrypted: &str,
    ) -> Result<bool, StoreError> {
        let existing = self.channel_account(id).await?;
        if existing
            .as_ref()
            .is_some_and(|row| row.tenant_id != tenant_id)
        {
            return Err(StoreError::Conflict(format!("channel id `{id}` is taken")));
        }
        let now = now_ms();
        let created = existing.is_none();
        sqlx::query(
            "INSERT INTO channel_accounts (id, tenant_id, provider, config, secrets_encrypted, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO UPDATE \
             SET provider = $3, config = $4, secrets_encrypted = $5, updated_at = $6 \
             WHERE channel_accounts.tenant_id = $2",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(provider)
        .bind(config_json)
        .bind(secrets_encrypted)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(created)
    }

    /// An account by its webhook id, whatever its tenant (the webhook names no tenant).
    pub async fn channel_account(&self, id: &str) -> Result<Option<ChannelAccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM channel_accounts WHERE id = $1");
        Ok(
            sqlx::query_as::<_, ChannelAccountRow>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&self.writer)
                .await?,
        )
    }

    /// An account by its webhook id, unless its tenant is deleted: what a webhook may
    /// reach. (An id stays taken by a deleted tenant's account: see `channel_account`.)
    pub async fn live_channel_account(
        &self,
        id: &str,
    ) -> Result<Option<ChannelAccountRow>, StoreError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM channel_accounts WHERE id = $1 AND EXISTS \
             (SELECT 1 FROM tenants t WHERE t.id = channel_accounts.tenant_id \
             AND t.deleted_at IS NULL)"
        );
        Ok(
            sqlx::query_as::<_, ChannelAccountRow>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&self.writer)
                .await?,
        )
    }

    pub async fn list_channel_accounts(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<ChannelAccountRow>, StoreError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM channel_accounts WHERE tenant_id = $1 ORDER BY id"
        );
        Ok(
            sqlx::query_as::<_, ChannelAccountRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    pub async fn delete_channel_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM channel_accounts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }

    /// The conversation of a provider thread, created on first contact. Concurrent first
    /// deliveries agree on one (unique index). Updates where replies go. Returns the id
    /// and whether it was created now.
    #[allow(clippy::too_many_arguments)]
    pub async fn open_thread_conversation(
        &self,
        tenant_id: &str,
        account_id: &str,
        provider: &str,
        thread_key: &str,
        flow_id: &str,
        flow_version: i64,
        dialog_state: &str,
        reply_to: &str,
    ) -> Result<(String, bool), StoreError> {
        let now = now_ms();
        let id = crate::transcript::new_id();
        let inserted = sqlx::query(
            "INSERT INTO conversations (id, tenant_id, channel, external_user, flow_id, flow_version, \
             dialog_state, status, last_seq, applied_seq, created_at, updated_at, channel_account, \
             reply_to) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', 0, 0, $8, $8, $9, $10) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(tenant_id)
        .bind(provider)
        .bind(thread_key)
        .bind(flow_id)
        .bind(flow_version)
        .bind(dialog_state)
        .bind(now)
        .bind(account_id)
        .bind(reply_to)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok((id, true));
        }
        sqlx::query(
            "UPDATE conversations SET reply_to = $4 WHERE tenant_id = $1 AND channel_account = $2 \
             AND external_user = $3",
        )
        .bind(tenant_id)
        .bind(account_id)
        .bind(thread_key)
        .bind(reply_to)
        .execute(&self.writer)
        .await?;
        let (existing,): (String,) = sqlx::query_as(
            "SELECT id FROM conversations WHERE tenant_id = $1 AND channel_account = $2 \
             AND external_user = $3",
        )
        .bind(tenant_id)
        .bind(account_id)
        .bind(thread_key)
        .fetch_one(&self.writer)
        .await?;
        Ok((existing, false))
    }

    /// Pending replies of a tenant's account (all conversations, or one), oldest first
    /// per conversation.
    pub async fn pending_outbox(
        &self,
        tenant_id: &str,
        account_id: &str,
        conversation_id: Option<&str>,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        Ok(sqlx::query_as::<_, OutboxRow>(
            "SELECT message_id, tenant_id, conversation_id, channel_account, seq, text, status, attempts, \
             template \
             FROM outbox WHERE tenant_id = $1 AND channel_account = $2 AND status = 'pending' \
             AND ($3 IS NULL OR conversation_id = $3) ORDER BY conversation_id, seq",
        )
        .bind(tenant_id)
        .bind(account_id)
        .bind(conversation_id)
        .fetch_all(&self.writer)
        .await?)
    }

    /// Records the outcome of a delivery: `sent` (with the provider's id) or `failed`
    /// (through group commit).
    pub async fn finish_outbox(
        &self,
        tenant_id: &str,
        message_id: &str,
        status: &str,
        attempts: i64,
        provider_message_id: Option<&str>,
        last_error: Option<&str>,
    ) -> Result<(), StoreError> {
        let result = OutboxResult {
            tenant_id: tenant_id.to_owned(),
            message_id: message_id.to_owned(),
            status: status.to_owned(),
            attempts,
            provider_message_id: provider_message_id.map(str::to_owned),
            last_error: last_error.map(str::to_owned),
        };
        self.batcher
            .write(message_id, Write::FinishOutbox(result))
            .await
            .map(drop)
    }

    /// Accounts with replies still to deliver, of every tenant: the node's recovery sweep
    /// at start (and, in cluster mode, every lease TTL), which then works per account.
    pub async fn accounts_with_pending_outbox(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT channel_account FROM outbox WHERE status = 'pending'")
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.into_iter().map(|(account,)| account).collect())
    }

    /// A tenant's outbox row by message id (tests and the admin view).
    pub async fn outbox_entry(
        &self,
        tenant_id: &str,
        message_id: &str,
    ) -> Result<Option<OutboxRow>, StoreError> {
        Ok(sqlx::query_as::<_, OutboxRow>(
            "SELECT message_id, tenant_id, conversation_id, channel_account, seq, text, status, attempts, \
             template \
             FROM outbox WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(tenant_id)
        .bind(message_id)
        .fetch_optional(&self.reader)
        .await?)
    }
}
