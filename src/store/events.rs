//! Conversation events and inbound de-duplication.
//!
//! Only the conversation actor writes here, and it assigns each event the next seq.
//! A user message is stored together with its inbound dedup key in one transaction, so a
//! resent client id or provider event id finds the first copy instead of a second turn.
//! A turn's bot messages are stored together with the dialog state that produced them.

use super::batch::{Write, Written};
use super::{Store, StoreError};
use crate::transcript::{Message, MessageMeta, Role};

/// The columns every event read selects.
const EVENT_COLUMNS: &str = "seq, message_id, kind, role, body, created_at, meta";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub seq: i64,
    pub message_id: String,
    pub kind: String,
    pub role: String,
    pub body: String,
    pub created_at: i64,
    pub meta: Option<String>,
}

impl EventRow {
    pub fn into_message(self) -> Result<Message, StoreError> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role `{}`", self.role)))?;
        Ok(Message {
            seq: self.seq,
            message_id: self.message_id,
            role,
            text: self.body,
            created_at: self.created_at,
            meta: MessageMeta::from_json(self.meta.as_deref()),
        })
    }
}

/// An event about to be stored; `seq` is chosen by the conversation actor.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub seq: i64,
    pub message_id: &'a str,
    pub role: Role,
    pub text: &'a str,
    pub meta: &'a MessageMeta,
}

/// What storing an inbound user message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Stored now, under the given seq.
    Stored { created_at: i64 },
    /// The dedup key was seen before: this is the message stored then.
    Duplicate { message_id: String, seq: i64 },
}

/// The dialog state written together with a turn's events.
#[derive(Debug, Clone)]
pub struct TurnState<'a> {
    pub dialog_state: &'a str,
    pub status: &'a str,
    pub applied_seq: i64,
    /// The conversation still has work to do without the user: a model reply or an
    /// adaptor call in flight, or user messages waiting for their turn. The start-up
    /// sweep wakes such conversations (`Store::unfinished_conversations`).
    pub pending_work: bool,
    /// For provider conversations: the channel account whose outbox receives the turn's
    /// bot and agent messages, in the same transaction.
    pub outbox_account: Option<&'a str>,
    /// When the conversation's timer is due (ms), if it waits for one.
    pub timer_due_at: Option<i64>,
    /// The queue of a conversation in human mode (see docs/agents.md); `None` once it is
    /// back with the bot. Entering sets it; staying keeps the queue and agent that
    /// assignment or a transfer gave it since; leaving clears them.
    pub handoff_queue: Option<&'a str>,
    /// The agent a write that enters human mode assigns the conversation to at once (a
    /// take-over); otherwise it waits in its queue.
    pub assign_to: Option<&'a str>,
}

/// An event owned, so it can wait in the group-commit queue.
#[derive(Debug, Clone)]
pub(crate) struct OwnedEvent {
    seq: i64,
    message_id: String,
    role: Role,
    text: String,
    meta: MessageMeta,
}

impl From<&NewEvent<'_>> for OwnedEvent {
    fn from(event: &NewEvent<'_>) -> Self {
        Self {
            seq: event.seq,
            message_id: event.message_id.to_owned(),
            role: event.role,
            text: event.text.to_owned(),
            meta: event.meta.clone(),
        }
    }
}

/// A user message and the key that makes it idempotent.
#[derive(Debug)]
pub(crate) struct UserWrite {
    source: String,
    dedup_key: String,
    event: OwnedEvent,
}

/// The dialog state a turn leaves, owned.
#[derive(Debug)]
pub(crate) struct OwnedTurnState {
    dialog_state: String,
    status: String,
    applied_seq: i64,
    pending_work: bool,
    outbox_account: Option<String>,
    timer_due_at: Option<i64>,
    handoff_queue: Option<String>,
    assign_to: Option<String>,
}

impl From<&TurnState<'_>> for OwnedTurnState {
    fn from(state: &TurnState<'_>) -> Self {
        Self {
            dialog_state: state.dialog_state.to_owned(),
            status: state.status.to_owned(),
            applied_seq: state.applied_seq,
            pending_work: state.pending_work,
            outbox_account: state.outbox_account.map(str::to_owned),
            timer_due_at: state.timer_due_at,
            handoff_queue: state.handoff_queue.map(str::to_owned),
            assign_to: state.assign_to.map(str::to_owned),
        }
    }
}

/// One conversation write: a user message, a turn's events and state, or both at once
/// (a user message and the turn that answers it share one commit).
#[derive(Debug)]
pub(crate) struct TurnWrite {
    tenant_id: String,
    conversation_id: String,
    fence: i64,
    user: Option<UserWrite>,
    events: Vec<OwnedEvent>,
    /// `None`: only the user message is stored (the conversation is busy).
    state: Option<OwnedTurnState>,
}

/// What a conversation write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TurnOutcome {
    Stored {
        created_at: i64,
    },
    /// The user message's dedup key was seen before; nothing was written.
    Duplicate {
        message_id: String,
        seq: i64,
    },
}

impl Store {
    /// Stores an inbound user message unless `(source, dedup_key)` was stored before.
    /// `fence` is the writer's fencing token (see [`Store::claim_conversation`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn append_user_message(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        fence: i64,
        source: &str,
        dedup_key: &str,
        event: &NewEvent<'_>,
    ) -> Result<AppendOutcome, StoreError> {
        self.write_turn(TurnWrite {
            tenant_id: tenant_id.to_owned(),
            conversation_id: conversation_id.to_owned(),
            fence,
            user: Some(UserWrite {
                source: source.to_owned(),
                dedup_key: dedup_key.to_owned(),
                event: event.into(),
            }),
            events: Vec::new(),
            state: None,
        })
        .await
    }

    /// Stores a user message and the turn that answers it in one commit, unless the
    /// message's dedup key was stored before (then nothing is written).
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_user_turn(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        fence: i64,
        source: &str,
        dedup_key: &str,
        user_event: &NewEvent<'_>,
        events: &[NewEvent<'_>],
        state: &TurnState<'_>,
    ) -> Result<AppendOutcome, StoreError> {
        self.write_turn(TurnWrite {
            tenant_id: tenant_id.to_owned(),
            conversation_id: conversation_id.to_owned(),
            fence,
            user: Some(UserWrite {
                source: source.to_owned(),
                dedup_key: dedup_key.to_owned(),
                event: user_event.into(),
            }),
            events: events.iter().map(OwnedEvent::from).collect(),
            state: Some(state.into()),
        })
        .await
    }

    /// Stores a turn's events and the dialog state after it, atomically. Returns the
    /// creation time given to the events.
    pub async fn commit_turn(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        fence: i64,
        events: &[NewEvent<'_>],
        state: &TurnState<'_>,
    ) -> Result<i64, StoreError> {
        let outcome = self
            .write_turn(TurnWrite {
                tenant_id: tenant_id.to_owned(),
                conversation_id: conversation_id.to_owned(),
                fence,
                user: None,
                events: events.iter().map(OwnedEvent::from).collect(),
                state: Some(state.into()),
            })
            .await?;
        match outcome {
            AppendOutcome::Stored { created_at } => Ok(created_at),
            // Only a user message can be a duplicate, and this write has none.
            AppendOutcome::Duplicate { .. } => Err(StoreError::Corrupt(
                "a turn without a user message reported a duplicate".into(),
            )),
        }
    }

    async fn write_turn(&self, write: TurnWrite) -> Result<AppendOutcome, StoreError> {
        let key = write.conversation_id.clone();
        match self
            .batcher
            .write(&key, Write::Turn(Box::new(write)))
            .await?
        {
            Written::Turn(TurnOutcome::Stored { created_at }) => {
                Ok(AppendOutcome::Stored { created_at })
            }
            Written::Turn(TurnOutcome::Duplicate { message_id, seq }) => {
                Ok(AppendOutcome::Duplicate { message_id, seq })
            }
            Written::Done => Err(StoreError::Corrupt(
                "a turn write reported no outcome".into(),
            )),
        }
    }

    /// The message stored under an inbound dedup key, if any: `(message_id, seq)`.
    pub async fn find_inbound(
        &self,
        tenant_id: &str,
        source: &str,
        dedup_key: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT message_id, seq FROM inbound_dedup \
             WHERE tenant_id = $1 AND source = $2 AND dedup_key = $3",
        )
        .bind(tenant_id)
        .bind(source)
        .bind(dedup_key)
        .fetch_optional(&self.reader)
        .await?)
    }

    /// Events with `seq > after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE tenant_id = $1 AND conversation_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
        );
        let rows = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(conversation_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(EventRow::into_message).collect()
    }

    /// When the end user last wrote in the conversation (ms), if ever.
    pub async fn last_user_message_at(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let (at,): (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(created_at) FROM events \
             WHERE tenant_id = $1 AND conversation_id = $2 AND role = 'user'",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(at)
    }

    /// The last `limit` events, oldest first.
    pub async fn recent_events(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY seq DESC LIMIT $3"
        );
        let rows = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(conversation_id)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        let mut messages = rows
            .into_iter()
            .map(EventRow::into_message)
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(messages)
    }
}

// The statements of a conversation write. The group-commit writers run them: through
// sqlx here (PostgreSQL, and SQLite when its file cannot be opened twice), and on
// SQLite's writer thread (`sqlite_writer.rs`). One text serves both.

/// Raises `owner_fence` to the writer's token, unless a newer owner has written.
pub(super) const FENCE_SQL: &str = "UPDATE conversations SET owner_fence = $3 \
     WHERE tenant_id = $1 AND id = $2 AND owner_fence <= $3";
/// The fence that refused a write.
pub(super) const FENCE_CURRENT_SQL: &str =
    "SELECT owner_fence FROM conversations WHERE tenant_id = $1 AND id = $2";
/// Claims a user message's dedup key; nothing when it was claimed before.
pub(super) const DEDUP_INSERT_SQL: &str = "INSERT INTO inbound_dedup (tenant_id, source, \
     dedup_key, conversation_id, message_id, seq, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
/// The message first stored under a dedup key.
pub(super) const DEDUP_FIND_SQL: &str = "SELECT message_id, seq FROM inbound_dedup \
     WHERE tenant_id = $1 AND source = $2 AND dedup_key = $3";
pub(super) const EVENT_INSERT_SQL: &str = "INSERT INTO events (tenant_id, conversation_id, seq, \
     message_id, kind, role, body, created_at, meta) \
     VALUES ($1, $2, $3, $4, 'message', $5, $6, $7, $8)";
pub(super) const OUTBOX_INSERT_SQL: &str = "INSERT INTO outbox (message_id, tenant_id, \
     conversation_id, channel_account, seq, text, status, attempts, created_at, updated_at, \
     template) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $8)";
/// The conversation row after a turn: dialog state, seqs, timer, and the human-mode
/// columns (a user message starts a wait unless one is running; an agent message ends
/// it; entering human mode sets the queue and maybe the agent; leaving clears them).
pub(super) const TURN_STATE_SQL: &str = "UPDATE conversations SET dialog_state = $3, \
     status = $4, applied_seq = $5, \
     last_seq = CASE WHEN $6 > last_seq THEN $6 ELSE last_seq END, updated_at = $7, \
     pending_work = $8, timer_due_at = $9, timer_claimed_until = NULL, \
     handoff_since = CASE WHEN $10 IS NULL THEN NULL \
       WHEN handoff_queue IS NULL THEN $7 ELSE handoff_since END, \
     handoff_waiting_since = CASE WHEN $10 IS NULL THEN NULL \
       WHEN handoff_queue IS NULL THEN $7 WHEN $12 = 1 THEN NULL \
       WHEN $11 = 1 AND handoff_waiting_since IS NULL THEN $7 \
       ELSE handoff_waiting_since END, \
     handoff_first_reply_at = CASE WHEN $10 IS NULL OR handoff_queue IS NULL THEN NULL \
       WHEN $12 = 1 AND handoff_first_reply_at IS NULL THEN $7 \
       ELSE handoff_first_reply_at END, \
     handoff_agent = CASE WHEN $10 IS NULL THEN NULL \
       WHEN handoff_queue IS NULL THEN $13 ELSE handoff_agent END, \
     handoff_assigned_at = CASE WHEN $10 IS NULL THEN NULL \
       WHEN handoff_queue IS NULL THEN (CASE WHEN $13 IS NULL THEN NULL ELSE $7 END) \
       ELSE handoff_assigned_at END, \
     sla_breach_for = CASE WHEN $10 IS NULL THEN NULL ELSE sla_breach_for END, \
     handoff_queue = CASE WHEN $10 IS NULL THEN NULL \
       WHEN handoff_queue IS NULL THEN $10 ELSE handoff_queue END \
     WHERE tenant_id = $1 AND id = $2";
/// The conversation row after a user message stored while the conversation is busy.
pub(super) const LAST_SEQ_SQL: &str = "UPDATE conversations \
     SET last_seq = CASE WHEN $3 > last_seq THEN $3 ELSE last_seq END, updated_at = $4 \
     WHERE tenant_id = $1 AND id = $2";

impl TurnWrite {
    pub(super) fn ids(&self) -> (&str, &str) {
        (&self.tenant_id, &self.conversation_id)
    }

    pub(super) fn fence(&self) -> i64 {
        self.fence
    }

    pub(super) fn user(&self) -> Option<&UserWrite> {
        self.user.as_ref()
    }

    pub(super) fn events(&self) -> &[OwnedEvent] {
        &self.events
    }

    pub(super) fn state(&self) -> Option<&OwnedTurnState> {
        self.state.as_ref()
    }

    /// The channel account whose outbox receives this turn's bot and agent messages.
    pub(super) fn outbox_account(&self) -> Option<&str> {
        self.state
            .as_ref()
            .and_then(|s| s.outbox_account.as_deref())
    }

    /// Whether `event` goes to the outbox too.
    pub(super) fn delivers(&self, event: &OwnedEvent) -> bool {
        self.outbox_account().is_some() && matches!(event.role, Role::Bot | Role::Agent)
    }

    /// The highest seq this write stores, if any.
    pub(super) fn last_seq(&self) -> Option<i64> {
        self.events
            .last()
            .map(|e| e.seq)
            .or(self.user.as_ref().map(|u| u.event.seq))
    }

    /// For the response-time targets of human mode: `(user spoke, agent spoke)`.
    pub(super) fn speakers(&self) -> (i64, i64) {
        let user = self.user.is_some() || self.events.iter().any(|e| e.role == Role::User);
        let agent = self.events.iter().any(|e| e.role == Role::Agent);
        (i64::from(user), i64::from(agent))
    }

    /// The error for a conversation row that is not there.
    pub(super) fn missing(&self) -> StoreError {
        fence_refused(&self.tenant_id, &self.conversation_id, self.fence, None)
    }
}

impl UserWrite {
    pub(super) fn source(&self) -> &str {
        &self.source
    }

    pub(super) fn dedup_key(&self) -> &str {
        &self.dedup_key
    }

    pub(super) fn event(&self) -> &OwnedEvent {
        &self.event
    }
}

impl OwnedEvent {
    pub(super) fn seq(&self) -> i64 {
        self.seq
    }

    pub(super) fn message_id(&self) -> &str {
        &self.message_id
    }

    pub(super) fn role(&self) -> &'static str {
        self.role.as_str()
    }

    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The stored body. PostgreSQL cannot store U+0000 in text; SQLite can. Text that
    /// reaches a turn from inside (a model reply, an adaptor's data in a template) is made
    /// storable alike on both: U+0000 becomes U+FFFD, as in webhook texts. (The edges
    /// refuse it from users.)
    pub(super) fn body(&self) -> std::borrow::Cow<'_, str> {
        crate::transcript::storable(&self.text)
    }

    pub(super) fn meta_json(&self) -> Option<String> {
        self.meta.to_json()
    }

    /// The WhatsApp template an outbox row sends instead of the text, as JSON.
    pub(super) fn template_json(&self) -> Option<String> {
        self.meta
            .whatsapp_template
            .as_ref()
            .and_then(|t| serde_json::to_string(t).ok())
    }
}

impl OwnedTurnState {
    pub(super) fn dialog_state(&self) -> &str {
        &self.dialog_state
    }

    pub(super) fn status(&self) -> &str {
        &self.status
    }

    pub(super) fn applied_seq(&self) -> i64 {
        self.applied_seq
    }

    pub(super) fn pending_work(&self) -> i64 {
        i64::from(self.pending_work)
    }

    pub(super) fn timer_due_at(&self) -> Option<i64> {
        self.timer_due_at
    }

    pub(super) fn handoff_queue(&self) -> Option<&str> {
        self.handoff_queue.as_deref()
    }

    pub(super) fn assign_to(&self) -> Option<&str> {
        self.assign_to.as_deref()
    }
}

/// Runs one conversation write inside the group-commit transaction `tx` (a savepoint):
/// the fence first, then the user message and its dedup key, the turn's events and
/// outbox rows, and the conversation row.
pub(crate) async fn write_turn(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    write: &TurnWrite,
    now: i64,
) -> Result<TurnOutcome, StoreError> {
    let (tenant_id, conversation_id) = write.ids();
    check_fence(tx, tenant_id, conversation_id, write.fence()).await?;
    if let Some(user) = write.user() {
        let claimed = sqlx::query(DEDUP_INSERT_SQL)
            .bind(tenant_id)
            .bind(user.source())
            .bind(user.dedup_key())
            .bind(conversation_id)
            .bind(user.event().message_id())
            .bind(user.event().seq())
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if claimed == 0 {
            let (message_id, seq): (String, i64) = sqlx::query_as(DEDUP_FIND_SQL)
                .bind(tenant_id)
                .bind(user.source())
                .bind(user.dedup_key())
                .fetch_one(&mut **tx)
                .await?;
            return Ok(TurnOutcome::Duplicate { message_id, seq });
        }
        insert_event(tx, write, user.event(), now).await?;
    }
    for event in write.events() {
        insert_event(tx, write, event, now).await?;
        if write.delivers(event) {
            sqlx::query(OUTBOX_INSERT_SQL)
                .bind(event.message_id())
                .bind(tenant_id)
                .bind(conversation_id)
                .bind(write.outbox_account())
                .bind(event.seq())
                .bind(event.text())
                .bind(now)
                .bind(event.template_json())
                .execute(&mut **tx)
                .await?;
        }
    }
    let last_seq = write.last_seq().unwrap_or(0);
    let updated = match write.state() {
        Some(state) => {
            let (user_spoke, agent_spoke) = write.speakers();
            sqlx::query(TURN_STATE_SQL)
                .bind(tenant_id)
                .bind(conversation_id)
                .bind(state.dialog_state())
                .bind(state.status())
                .bind(state.applied_seq())
                .bind(last_seq)
                .bind(now)
                .bind(state.pending_work())
                .bind(state.timer_due_at())
                .bind(state.handoff_queue())
                .bind(user_spoke)
                .bind(agent_spoke)
                .bind(state.assign_to())
                .execute(&mut **tx)
                .await?
                .rows_affected()
        }
        None => sqlx::query(LAST_SEQ_SQL)
            .bind(tenant_id)
            .bind(conversation_id)
            .bind(last_seq)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    };
    if updated != 1 {
        return Err(write.missing());
    }
    Ok(TurnOutcome::Stored { created_at: now })
}

/// Takes the conversation row for a writer holding `fence`: raises `owner_fence` to it, or
/// fails with [`StoreError::Fenced`] when a newer owner has already written. It is the
/// first statement of every conversation write, so on PostgreSQL it also takes the row
/// lock: a concurrent writer with another token waits, then sees the new value.
pub(super) async fn check_fence(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    conversation_id: &str,
    fence: i64,
) -> Result<(), StoreError> {
    let taken = sqlx::query(FENCE_SQL)
        .bind(tenant_id)
        .bind(conversation_id)
        .bind(fence)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if taken == 1 {
        return Ok(());
    }
    let current: Option<(i64,)> = sqlx::query_as(FENCE_CURRENT_SQL)
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_optional(&mut **tx)
        .await?;
    Err(fence_refused(
        tenant_id,
        conversation_id,
        fence,
        current.map(|(current,)| current),
    ))
}

/// The error for a write the fence check refused: `current` is the conversation's fence,
/// `None` when the row is not there.
pub(super) fn fence_refused(
    tenant_id: &str,
    conversation_id: &str,
    presented: i64,
    current: Option<i64>,
) -> StoreError {
    match current {
        Some(current) => StoreError::Fenced {
            conversation_id: conversation_id.to_string(),
            presented,
            current,
        },
        None => StoreError::Conflict(format!(
            "conversation {conversation_id} not found for tenant {tenant_id}"
        )),
    }
}

async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    write: &TurnWrite,
    event: &OwnedEvent,
    now: i64,
) -> Result<(), StoreError> {
    let (tenant_id, conversation_id) = write.ids();
    sqlx::query(EVENT_INSERT_SQL)
        .bind(tenant_id)
        .bind(conversation_id)
        .bind(event.seq())
        .bind(event.message_id())
        .bind(event.role())
        .bind(event.body().as_ref())
        .bind(now)
        .bind(event.meta_json())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
