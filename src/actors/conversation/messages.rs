//! Messages that reach a conversation from outside its engine: a user's (stored, acked,
//! and answered), an agent's, and notes and events for the transcript.
//!
//! A user message that the engine can take at once is stored together with the turn
//! that answers it, in one commit, and acked after it: one durable write per message.
//! While the engine waits for the model, a user message is stored and acked alone and
//! waits in the queue for its turn.

use ractor::{ActorProcessingErr, ActorRef};
use tracing::info;

use super::steps::{self, Outgoing, plan, settle};
use super::{ConversationArgs, ConversationMsg, Live, Responder};
use crate::dialog::{Event, Status};
use crate::store::{AppendOutcome, NewEvent, StoreError, TurnState};
use crate::transcript::{ConversationEvent, Message, MessageMeta, Role, new_id};
use crate::turn::{Ack, Inbound, Reply, Source, TurnError};

/// Stores an inbound user message, acks it, and hands it to the engine.
pub(super) async fn receive(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    inbound: Inbound,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    if live.persisted.dialog.status == Status::Ended && inbound.source == Source::Webchat {
        return refuse_after_end(args, inbound, reply).await;
    }
    let started = std::time::Instant::now();
    let seq = live.last_seq + 1;
    let message_id = new_id();
    // A web chat message keeps its client id (its dedup key is `<conversation>:<client
    // id>`), so every tab of the visitor matches it.
    let meta = MessageMeta {
        client_id: (inbound.source == Source::Webchat)
            .then(|| {
                inbound
                    .dedup_key
                    .strip_prefix(args.conversation_id.as_str())
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(str::to_string)
            })
            .flatten(),
        ..MessageMeta::NONE
    };
    let user_event = NewEvent {
        seq,
        message_id: &message_id,
        role: Role::User,
        text: &inbound.text,
        meta: &meta,
    };
    let store = &args.services.store;
    let at_once = !live.persisted.busy() && live.queued.is_empty();
    let (outcome, planned) = if at_once {
        let planned = plan(args, live, Event::UserText(inbound.text.clone()), None);
        let dialog_state = serde_json::to_string(&planned.persisted)?;
        let outcome = store
            .commit_user_turn(
                &args.tenant_id,
                &args.conversation_id,
                args.fence,
                inbound.source.as_str(),
                &inbound.dedup_key,
                &user_event,
                &planned.events(seq + 1),
                &live.turn_state(&dialog_state, &planned.persisted, seq),
            )
            .await;
        (outcome, Some(planned))
    } else {
        let outcome = store
            .append_user_message(
                &args.tenant_id,
                &args.conversation_id,
                args.fence,
                inbound.source.as_str(),
                &inbound.dedup_key,
                &user_event,
            )
            .await;
        (outcome, None)
    };
    let created_at = match outcome {
        Ok(AppendOutcome::Duplicate { message_id, seq }) => {
            reply.send(Reply::Ack(Ack {
                message_id,
                seq,
                duplicate: true,
            }));
            return Ok(());
        }
        Ok(AppendOutcome::Stored { created_at }) => created_at,
        Err(error) => {
            reply.send(TurnError::of_store(&error).into());
            // The in-memory seq may now disagree with the store: restart from the store.
            return Err(error.into());
        }
    };
    live.last_seq = seq;
    // Acked before the turn's messages are published: the client sees its ack first.
    reply.send(Reply::Ack(Ack {
        message_id: message_id.clone(),
        seq,
        duplicate: false,
    }));
    let message = Message {
        seq,
        message_id,
        role: Role::User,
        text: inbound.text.clone(),
        created_at,
        meta,
    };
    steps::publish(args, live, message);
    match planned {
        Some(planned) => {
            metrics::histogram!("switchboard_turn_seconds").record(started.elapsed().as_secs_f64());
            settle(args, live, myself, planned, seq + 1, created_at, seq);
            Ok(())
        }
        None => {
            live.queued.push_back((seq, inbound.text));
            steps::pump(args, live, myself).await
        }
    }
}

/// After the end a web chat visitor starts a new conversation (its widget says so);
/// a message resent from before the end still gets its ack.
async fn refuse_after_end(
    args: &ConversationArgs,
    inbound: Inbound,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    let stored = args
        .services
        .store
        .find_inbound(&args.tenant_id, inbound.source.as_str(), &inbound.dedup_key)
        .await?;
    reply.send(match stored {
        Some((message_id, seq)) => Reply::Ack(Ack {
            message_id,
            seq,
            duplicate: true,
        }),
        None => TurnError::Ended.into(),
    });
    Ok(())
}

/// Stores one message outside an engine step (agent messages, system notes) with the
/// current dialog state, then publishes it.
pub(super) async fn store_message(
    args: &ConversationArgs,
    live: &mut Live,
    role: Role,
    text: String,
    meta: MessageMeta,
) -> Result<Ack, StoreError> {
    store_message_assigning(args, live, role, text, meta, None).await
}

/// [`store_message`], for a write that puts the conversation in human mode already
/// assigned to `assign_to` (a take-over), so no other agent can be given it between.
async fn store_message_assigning(
    args: &ConversationArgs,
    live: &mut Live,
    role: Role,
    text: String,
    meta: MessageMeta,
    assign_to: Option<&str>,
) -> Result<Ack, StoreError> {
    let seq = live.last_seq + 1;
    let message_id = new_id();
    let event = NewEvent {
        seq,
        message_id: &message_id,
        role,
        text: &text,
        meta: &meta,
    };
    let dialog_state =
        serde_json::to_string(&live.persisted).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let delivered = matches!(role, Role::Agent | Role::Bot);
    let created_at = args
        .services
        .store
        .commit_turn(
            &args.tenant_id,
            &args.conversation_id,
            args.fence,
            std::slice::from_ref(&event),
            &TurnState {
                dialog_state: &dialog_state,
                status: live.persisted.status_label(),
                applied_seq: live.applied_seq,
                pending_work: live.persisted.busy() || !live.queued.is_empty(),
                // System messages and notes are for the transcript only; agent replies
                // (and a bot's template outside WhatsApp's window) are delivered.
                outbox_account: delivered
                    .then_some(live.channel_account.as_deref())
                    .flatten(),
                timer_due_at: live.persisted.timer.as_ref().map(|t| t.due_at),
                handoff_queue: live.persisted.handoff_queue(),
                assign_to,
            },
        )
        .await?;
    live.last_seq = seq;
    if delivered {
        steps::notify_outbox(args, live);
    }
    steps::publish(
        args,
        live,
        Message {
            seq,
            message_id: message_id.clone(),
            role,
            text,
            created_at,
            meta,
        },
    );
    Ok(Ack {
        message_id,
        seq,
        duplicate: false,
    })
}

/// Stores and publishes a system message marking a turning point of the conversation.
pub(super) async fn note_event(
    args: &ConversationArgs,
    live: &mut Live,
    event: ConversationEvent,
) -> Result<(), StoreError> {
    let Outgoing { text, meta, .. } = Outgoing::event(event, "");
    store_message(args, live, Role::System, text, meta).await?;
    Ok(())
}

/// Stores and publishes a human agent's message (only in human mode).
pub(super) async fn agent_message(
    args: &ConversationArgs,
    live: &mut Live,
    text: String,
    author: Option<String>,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    if !matches!(live.persisted.dialog.status, Status::HumanMode { .. }) {
        reply.send(TurnError::NotInHumanMode.into());
        return Ok(());
    }
    let meta = MessageMeta {
        author,
        ..MessageMeta::NONE
    };
    let stored = store_message(args, live, Role::Agent, text, meta).await;
    answer_with_ack(stored, reply)
}

/// Answers a message command with the ack of its stored message, or its error.
fn answer_with_ack(
    stored: Result<Ack, StoreError>,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    match stored {
        Ok(ack) => {
            reply.send(Reply::Ack(ack));
            Ok(())
        }
        Err(error) => {
            reply.send(TurnError::of_store(&error).into());
            // The in-memory seq may now disagree with the store: restart from the store.
            Err(error.into())
        }
    }
}

/// Stores and publishes an agent's private note (any status but not started).
pub(super) async fn agent_note(
    args: &ConversationArgs,
    live: &mut Live,
    text: String,
    author: Option<String>,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    let meta = MessageMeta {
        author,
        ..MessageMeta::NONE
    };
    let stored = store_message(args, live, Role::Note, text, meta).await;
    answer_with_ack(stored, reply)
}

/// Records a turning point of human mode that happened outside the conversation.
pub(super) async fn mark(
    args: &ConversationArgs,
    live: &mut Live,
    event: ConversationEvent,
    detail: &str,
) -> Result<(), StoreError> {
    let Outgoing { text, meta, .. } = Outgoing::event(event, detail);
    store_message(args, live, Role::System, text, meta).await?;
    Ok(())
}

/// An agent takes the conversation over from the bot: whatever the bot was doing is
/// abandoned (a model answer in progress, an adaptor call, a question's timer), the
/// conversation is in human mode in `queue` at the state it was in, assigned to the
/// agent, and a system message records it, all in one commit. Released without a named
/// state, it enters that state again.
pub(super) async fn take_over(
    args: &ConversationArgs,
    live: &mut Live,
    agent_id: &str,
    agent_name: &str,
    queue: String,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    let state = match &live.persisted.dialog.status {
        Status::HumanMode { .. } => {
            reply.send(Reply::Done);
            return Ok(());
        }
        Status::NotStarted | Status::Ended => {
            reply.send(TurnError::NotRunning.into());
            return Ok(());
        }
        status => status.state_name().unwrap_or_default().to_owned(),
    };
    info!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
        state = %state, queue = %queue, "an agent took the conversation over");
    live.llm_task = None;
    live.call_task = None;
    live.persisted.pending_llm = None;
    live.persisted.pending_call = None;
    live.persisted.timer = None;
    live.persisted.dialog.status = Status::HumanMode { state, queue };
    let Outgoing { text, meta, .. } = Outgoing::event(ConversationEvent::Takeover, agent_name);
    let stored =
        store_message_assigning(args, live, Role::System, text, meta, Some(agent_id)).await;
    match stored {
        Ok(_) => {
            reply.send(Reply::Done);
            let data = serde_json::json!({
                "conversation_id": args.conversation_id,
                "agent_id": agent_id,
                "agent_name": agent_name,
                "takeover": true,
            });
            args.services
                .alerts
                .raise(&args.tenant_id, "handoff.assigned", data)
                .await;
            Ok(())
        }
        Err(error) => {
            reply.send(TurnError::of_store(&error).into());
            Err(error.into())
        }
    }
}

/// WhatsApp's customer-service window: free-form messages only within 24 hours of the
/// user's last message.
const WHATSAPP_WINDOW_MS: i64 = 24 * 3_600_000;

/// A durable timer fired for the question in `state`. On WhatsApp, when the user last
/// wrote more than 24 hours ago, what the timer's step says is stored but not sent: the
/// flow's `whatsapp_template` goes instead, or nothing, and the transcript says which.
pub(super) async fn timer_fired(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    state: String,
) -> Result<(), ActorProcessingErr> {
    let outside = live.whatsapp && live.channel_account.is_some() && {
        let last = args
            .services
            .store
            .last_user_message_at(&args.tenant_id, &args.conversation_id)
            .await?;
        last.is_none_or(|at| crate::store::now_ms() - at > WHATSAPP_WINDOW_MS)
    };
    let before = live.last_seq;
    let applied = live.applied_seq;
    live.hold_outbox = outside;
    let stepped = steps::apply(args, live, myself, Event::Timeout { state }, applied, None).await;
    live.hold_outbox = false;
    stepped?;
    let held = outside
        && live
            .history
            .iter()
            .any(|m| m.seq > before && m.role == Role::Bot);
    if !held {
        return Ok(());
    }
    match live.flow.whatsapp_template.clone() {
        Some(template) => {
            info!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                template = %template.name, "outside the WhatsApp window: sending the template");
            let text = format!(
                "Outside WhatsApp's 24-hour window: sent the template `{}` ({}) instead of the messages above.",
                template.name, template.language
            );
            let meta = MessageMeta {
                whatsapp_template: Some(template),
                ..MessageMeta::NONE
            };
            store_message(args, live, Role::Bot, text, meta).await?;
        }
        None => {
            info!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                "outside the WhatsApp window and no template: the timer's messages are not sent");
            let text = "Not sent on WhatsApp: the user last wrote more than 24 hours ago, and the flow has no `whatsapp_template`.".to_owned();
            store_message(args, live, Role::System, text, MessageMeta::NONE).await?;
        }
    }
    Ok(())
}
