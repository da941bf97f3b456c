//! Conversations: which tenant, channel and user they belong to, the flow version they
//! run, and their dialog state.

use super::batch::Write;
use super::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: String,
    pub tenant_id: String,
    pub channel: String,
    /// The channel's user identity (for web chat, the visitor id in the visitor token).
    pub external_user: String,
    pub flow_id: String,
    pub flow_version: i64,
    /// JSON of the dialog engine's state after the last applied event.
    pub dialog_state: String,
    pub status: String,
    /// Highest seq stored for this conversation.
    pub last_seq: i64,
    /// Highest user-message seq the dialog engine has consumed.
    pub applied_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The channel account of a provider conversation (None for web chat).
    pub channel_account: Option<String>,
    /// JSON of where replies go, for provider conversations.
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewConversation<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub channel: &'a str,
    pub external_user: &'a str,
    pub flow_id: &'a str,
    pub flow_version: i64,
    pub dialog_state: &'a str,
}

/// Inserts a new conversation (group commit runs it).
pub(super) const CONVERSATION_INSERT_SQL: &str = "INSERT INTO conversations (id, tenant_id, \
     channel, external_user, flow_id, flow_version, dialog_state, status, last_seq, \
     applied_seq, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', 0, 0, $8, $8)";

/// A new conversation, owned so it can wait in the group-commit queue.
#[derive(Debug)]
pub(crate) struct OwnedConversation {
    pub(super) id: String,
    pub(super) tenant_id: String,
    pub(super) channel: String,
    pub(super) external_user: String,
    pub(super) flow_id: String,
    pub(super) flow_version: i64,
    pub(super) dialog_state: String,
}

impl OwnedConversation {
    pub(crate) async fn insert(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(CONVERSATION_INSERT_SQL)
            .bind(&self.id)
            .bind(&self.tenant_id)
            .bind(&self.channel)
            .bind(&self.external_user)
            .bind(&self.flow_id)
            .bind(self.flow_version)
            .bind(&self.dialog_state)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

const COLUMNS: &str = "id, tenant_id, channel, external_user, flow_id, flow_version, \
    dialog_state, status, last_seq, applied_seq, created_at, updated_at, channel_account, reply_to";

impl Store {
    /// Creates a conversation (through group commit: many new conversations share a
    /// commit).
    pub async fn create_conversation(&self, new: &NewConversation<'_>) -> Result<(), StoreError> {
        let owned = OwnedConversation {
            id: new.id.to_owned(),
            tenant_id: new.tenant_id.to_owned(),
            channel: new.channel.to_owned(),
            external_user: new.external_user.to_owned(),
            flow_id: new.flow_id.to_owned(),
            flow_version: new.flow_version,
            dialog_state: new.dialog_state.to_owned(),
        };
        self.batcher
            .write(new.id, Write::CreateConversation(owned))
            .await
            .map(drop)
    }

    /// The user's most recent conversation on `channel` that has not ended (an
    /// identified web chat visitor coming back on another device).
    pub async fn latest_open_conversation(
        &self,
        tenant_id: &str,
        channel: &str,
        external_user: &str,
    ) -> Result<Option<ConversationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM conversations WHERE tenant_id = $1 AND channel = $2 \
             AND external_user = $3 AND status <> 'ended' AND flow_version > 0 \
             ORDER BY updated_at DESC, id DESC LIMIT 1"
        );
        Ok(
            sqlx::query_as::<_, ConversationRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(channel)
                .bind(external_user)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    pub async fn conversation(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ConversationRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM conversations WHERE tenant_id = $1 AND id = $2");
        Ok(
            sqlx::query_as::<_, ConversationRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }
}

/// Filters for listing conversations; all optional.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<String>,
    pub channel: Option<String>,
    pub flow_id: Option<String>,
    pub flow_version: Option<i64>,
    /// Only conversations started at or after this time (ms).
    pub created_since: Option<i64>,
    /// Only conversations started before this time (ms).
    pub created_until: Option<i64>,
    /// Only conversations with a user, bot or agent message containing this text
    /// (case-insensitive; ASCII case folding on SQLite).
    pub text: Option<String>,
    /// Only conversations updated before this time (for paging, newest first).
    pub updated_before: Option<i64>,
    /// Preview conversations (on a preview version, `flow_version < 0`) instead of real
    /// ones.
    pub preview: bool,
    pub limit: i64,
}

/// `text` as a LIKE pattern that matches it literally anywhere (`\` escapes).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// A page of the tenant's conversations, most recently updated first.
    pub async fn list_conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM conversations WHERE tenant_id = $1 \
             AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR channel = $3) \
             AND ($4 IS NULL OR flow_id = $4) AND ($5 IS NULL OR updated_at < $5) \
             AND ($7 IS NULL OR flow_version = $7) AND ($8 IS NULL OR created_at >= $8) \
             AND ($9 IS NULL OR created_at < $9) \
             AND (CASE WHEN flow_version < 0 THEN 1 ELSE 0 END) = $11 \
             AND ($10 IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = $1 \
                  AND e.conversation_id = conversations.id AND e.role IN ('user', 'bot', 'agent') \
                  AND LOWER(e.body) LIKE $10 ESCAPE '\\')) \
             ORDER BY updated_at DESC, id DESC LIMIT $6"
        );
        Ok(
            sqlx::query_as::<_, ConversationRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(filter.status.as_deref())
                .bind(filter.channel.as_deref())
                .bind(filter.flow_id.as_deref())
                .bind(filter.updated_before)
                .bind(filter.limit)
                .bind(filter.flow_version)
                .bind(filter.created_since)
                .bind(filter.created_until)
                .bind(filter.text.as_deref().map(contains_pattern))
                .bind(i64::from(filter.preview))
                .fetch_all(&self.reader)
                .await?,
        )
    }
}

/// A conversation to wake, by tenant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConversationKey {
    pub tenant_id: String,
    pub id: String,
}

impl Store {
    /// Active conversations with work to do without the user (`pending_work`: a model
    /// reply or adaptor call in flight, user messages waiting), of every tenant, in key
    /// order after `after`: the node's sweep after a restart or a takeover pages through
    /// them. Like the outbox sweep, it names no tenant because its caller has none.
    pub async fn unfinished_conversations(
        &self,
        after: Option<&ConversationKey>,
        limit: i64,
    ) -> Result<Vec<ConversationKey>, StoreError> {
        let (tenant, id) = after.map_or(("", ""), |key| (key.tenant_id.as_str(), key.id.as_str()));
        Ok(sqlx::query_as::<_, ConversationKey>(
            "SELECT tenant_id, id FROM conversations \
             WHERE pending_work = 1 AND status = 'active' \
               AND (tenant_id > $1 OR (tenant_id = $1 AND id > $2)) \
             ORDER BY tenant_id, id LIMIT $3",
        )
        .bind(tenant)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }

    /// The highest fencing token that has written to (or claimed) the conversation; a new
    /// owner's token must be above it. `None` when the conversation does not exist.
    pub async fn owner_fence(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT owner_fence FROM conversations WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|(fence,)| fence))
    }

    /// A new owner takes the conversation: from now on writes with an older token fail
    /// with [`StoreError::Fenced`], even before the new owner has written anything.
    pub async fn claim_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        fence: i64,
    ) -> Result<(), StoreError> {
        use sqlx::Acquire;
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        super::events::check_fence(&mut tx, tenant_id, conversation_id, fence).await?;
        tx.commit().await?;
        Ok(())
    }
}
