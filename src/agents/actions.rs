//! What an agent does to a conversation: claim, answer, note, transfer, resolve back to
//! the bot, take over from the bot. Each checks that the agent may see the conversation
//! (assigned to it, or waiting in one of its queues; another's is "not found"), then
//! moves it in the store or sends its actor a command; turning points (assigned,
//! transferred, resolved, taken over) are recorded in the transcript.

use crate::actors::{Runtime, TenantHandle};
use crate::store::{AgentRow, HandoffRow, StoreError};
use crate::transcript::ConversationEvent;
use crate::turn::{Ack, Command, TurnError};

/// The queue a take-over puts a conversation in when the agent serves none.
pub const TAKEOVER_QUEUE: &str = "takeover";

/// Why an agent's action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Unknown, or not the agent's to see.
    #[error("conversation not found")]
    NotFound,
    #[error("the conversation is assigned to another agent")]
    AssignedElsewhere,
    #[error("the agent has no free capacity")]
    AtCapacity,
    #[error("no such agent")]
    NoSuchAgent,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Turn(#[from] TurnError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the tenant is unavailable")]
    Unavailable,
}

/// Where a transfer sends the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTo {
    Agent(String),
    Queue(String),
}

async fn tenant(runtime: &Runtime, tenant_id: &str) -> Result<TenantHandle, ActionError> {
    runtime
        .tenant(tenant_id)
        .await
        .map_err(|_| ActionError::Unavailable)?
        .ok_or(ActionError::NotFound)
}

/// The conversation's handoff, if `agent` may see it.
pub async fn visible(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
) -> Result<HandoffRow, ActionError> {
    let row = runtime
        .services()
        .store
        .handoff(&agent.tenant_id, conversation_id)
        .await?
        .ok_or(ActionError::NotFound)?;
    match &row.agent_id {
        Some(id) if *id == agent.id => Ok(row),
        None if agent.serves(&row.queue) => Ok(row),
        _ => Err(ActionError::NotFound),
    }
}

/// Assigns the conversation (still with `current`) to `agent`, within its capacity when
/// `capacity` is true, and records it. Returns whether it did.
pub async fn assign(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
    current: Option<&str>,
    capacity: bool,
) -> Result<bool, ActionError> {
    let store = &runtime.services().store;
    let assigned = store
        .assign_handoff(
            &agent.tenant_id,
            conversation_id,
            &agent.id,
            current,
            capacity.then_some(agent.capacity),
        )
        .await?;
    if assigned {
        metrics::counter!("switchboard_handoff_assignments_total").increment(1);
        mark(
            runtime,
            &agent.tenant_id,
            conversation_id,
            ConversationEvent::Assigned,
            &agent.name,
        )
        .await;
        let data = serde_json::json!({
            "conversation_id": conversation_id,
            "agent_id": agent.id,
            "agent_name": agent.name,
        });
        runtime
            .services()
            .alerts
            .raise(&agent.tenant_id, "handoff.assigned", data)
            .await;
    }
    Ok(assigned)
}

/// Records a turning point in the transcript; a failure is logged (the move itself
/// holds).
async fn mark(
    runtime: &Runtime,
    tenant_id: &str,
    conversation_id: &str,
    event: ConversationEvent,
    detail: &str,
) {
    let Ok(tenant) = tenant(runtime, tenant_id).await else {
        return;
    };
    let command = Command::Mark {
        event,
        detail: detail.to_owned(),
    };
    if let Err(error) = tenant
        .command(conversation_id, command, false)
        .await
        .into_done()
    {
        tracing::warn!(tenant_id, conversation_id, ?event, error = %error,
            "could not record a handoff turning point in the transcript");
    }
}

/// Tells the tenant's alert hooks that a conversation went (back) to a queue: a transfer,
/// or its agent went offline.
pub async fn transferred(
    runtime: &Runtime,
    tenant_id: &str,
    conversation_id: &str,
    queue: &str,
    reason: &str,
) {
    let data = serde_json::json!({
        "conversation_id": conversation_id,
        "queue": queue,
        "reason": reason,
    });
    runtime
        .services()
        .alerts
        .raise(tenant_id, "handoff.transferred", data)
        .await;
}

/// The agent claims a conversation waiting in one of its queues (within its capacity).
pub async fn claim(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
) -> Result<(), ActionError> {
    let row = visible(runtime, agent, conversation_id).await?;
    if row.agent_id.as_deref() == Some(agent.id.as_str()) {
        return Ok(());
    }
    if assign(runtime, agent, conversation_id, None, true).await? {
        return Ok(());
    }
    // Lost the race, or full: say which.
    match visible(runtime, agent, conversation_id).await {
        Ok(row) if row.agent_id.as_deref() == Some(agent.id.as_str()) => Ok(()),
        Ok(row) if row.agent_id.is_none() => Err(ActionError::AtCapacity),
        _ => Err(ActionError::AssignedElsewhere),
    }
}

/// The conversation must be the agent's: assigned to it, or waiting in its queue (then
/// the agent takes it, whatever its load: it chose to answer).
async fn own(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
) -> Result<HandoffRow, ActionError> {
    let row = visible(runtime, agent, conversation_id).await?;
    if row.agent_id.is_none() && !assign(runtime, agent, conversation_id, None, false).await? {
        return Err(ActionError::AssignedElsewhere);
    }
    Ok(row)
}

/// The agent answers the user (the agent's name goes with the message).
pub async fn message(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
    text: String,
) -> Result<Ack, ActionError> {
    own(runtime, agent, conversation_id).await?;
    let command = Command::AgentMessage {
        text,
        author: Some(agent.name.clone()),
    };
    stored(runtime, agent, conversation_id, command).await
}

/// Sends a message command to the conversation; its ack.
async fn stored(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
    command: Command,
) -> Result<Ack, ActionError> {
    let tenant = tenant(runtime, &agent.tenant_id).await?;
    Ok(tenant
        .command(conversation_id, command, false)
        .await
        .into_ack()?)
}

/// A private note in the transcript: other agents see it, the user never does.
pub async fn note(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
    text: String,
) -> Result<Ack, ActionError> {
    visible(runtime, agent, conversation_id).await?;
    let command = Command::AgentNote {
        text,
        author: Some(agent.name.clone()),
    };
    stored(runtime, agent, conversation_id, command).await
}

/// Moves the conversation to another agent of the tenant (whatever that agent's load:
/// a person chose it) or to a queue, where it waits unassigned.
pub async fn transfer(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
    to: TransferTo,
) -> Result<(), ActionError> {
    let row = visible(runtime, agent, conversation_id).await?;
    let store = &runtime.services().store;
    match to {
        TransferTo::Agent(target) => {
            let target = store
                .agent(&agent.tenant_id, &target)
                .await?
                .ok_or(ActionError::NoSuchAgent)?;
            if !assign(
                runtime,
                &target,
                conversation_id,
                row.agent_id.as_deref(),
                false,
            )
            .await?
            {
                return Err(ActionError::AssignedElsewhere);
            }
        }
        TransferTo::Queue(queue) => {
            if !crate::dialog::is_queue_name(&queue) {
                return Err(ActionError::Invalid(
                    "`queue` must match [a-z0-9_-]{1,64}".into(),
                ));
            }
            if !store
                .requeue_handoff(&agent.tenant_id, conversation_id, &queue)
                .await?
            {
                return Err(ActionError::NotFound);
            }
            mark(
                runtime,
                &agent.tenant_id,
                conversation_id,
                ConversationEvent::Transferred,
                &queue,
            )
            .await;
            transferred(
                runtime,
                &agent.tenant_id,
                conversation_id,
                &queue,
                "transfer",
            )
            .await;
        }
    }
    Ok(())
}

/// Resolves the conversation back to the bot: at `state` when given, else where the
/// flow goes after its handoff (a taken-over question is asked again).
pub async fn resolve(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
    state: Option<String>,
) -> Result<(), ActionError> {
    own(runtime, agent, conversation_id).await?;
    let command = match state {
        Some(state) => Command::ReleaseTo { state },
        None => Command::Release,
    };
    let tenant = tenant(runtime, &agent.tenant_id).await?;
    Ok(tenant
        .command(conversation_id, command, false)
        .await
        .into_done()?)
}

/// The agent takes a conversation the bot is running: the bot stops, the conversation
/// is the agent's at once (in the agent's first queue), and that is recorded.
pub async fn take_over(
    runtime: &Runtime,
    agent: &AgentRow,
    conversation_id: &str,
) -> Result<(), ActionError> {
    let store = &runtime.services().store;
    store
        .conversation(&agent.tenant_id, conversation_id)
        .await?
        .ok_or(ActionError::NotFound)?;
    let queue = agent
        .queues
        .first()
        .cloned()
        .unwrap_or_else(|| TAKEOVER_QUEUE.to_owned());
    let tenant = tenant(runtime, &agent.tenant_id).await?;
    let command = Command::TakeOver {
        agent_id: agent.id.clone(),
        agent_name: agent.name.clone(),
        queue,
    };
    tenant
        .command(conversation_id, command, false)
        .await
        .into_done()?;
    // Already with a human before: it must be this agent's (or waiting in its queue).
    own(runtime, agent, conversation_id).await?;
    Ok(())
}
