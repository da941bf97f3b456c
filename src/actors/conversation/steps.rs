//! The conversation's durable steps: storing a user message and acking it, running the
//! dialog engine on it and storing what it produced in one transaction, and storing
//! messages written outside the engine (agents, system notes). Each step stores first
//! and publishes after, so anything a watcher saw can be replayed from the store.

use ractor::{ActorProcessingErr, ActorRef};
use tracing::{debug, info, warn};

use super::{ConversationArgs, ConversationMsg, Live, Responder, work};
use crate::bus::BusEvent;
use crate::dialog::{self, Effect, Event, Status};
use crate::store::{AppendOutcome, NewEvent, StoreError, TurnState};
use crate::transcript::{ConversationEvent, Message, MessageMeta, Role, new_id};
use crate::turn::{
    Ack, Inbound, PendingCall, PendingLlm, PersistedState, Reply, Source, TurnError,
};

/// A message a step is about to store.
struct Outgoing {
    message_id: String,
    role: Role,
    text: String,
    meta: MessageMeta,
}

impl Outgoing {
    fn bot(message_id: String, text: String) -> Self {
        Self {
            message_id,
            role: Role::Bot,
            text,
            meta: MessageMeta::NONE,
        }
    }

    /// The system message that marks a turning point of the conversation.
    fn event(event: ConversationEvent, detail: &str) -> Self {
        Self {
            message_id: new_id(),
            role: Role::System,
            text: event_text(event, detail),
            meta: MessageMeta {
                event: Some(event),
                ..MessageMeta::NONE
            },
        }
    }
}

/// The transcript text of a conversation event (channels show their own, localised).
fn event_text(event: ConversationEvent, detail: &str) -> String {
    match event {
        ConversationEvent::Handoff => format!("Handed off to a person (queue `{detail}`)."),
        ConversationEvent::Resolved => "The person handed the conversation back to the bot.".into(),
        ConversationEvent::Ended => "The conversation ended.".into(),
    }
}

/// Stores an inbound user message, acks it, and hands it to the engine.
pub(super) async fn receive(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    inbound: Inbound,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    if live.persisted.dialog.status == Status::Ended && inbound.source == Source::Webchat {
        // A web chat visitor starts a new conversation instead (its widget says so); a
        // message resent from before the end still gets its ack.
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
        return Ok(());
    }
    let seq = live.last_seq + 1;
    let message_id = new_id();
    let event = NewEvent {
        seq,
        message_id: &message_id,
        role: Role::User,
        text: &inbound.text,
        meta: &MessageMeta::NONE,
    };
    let outcome = args
        .services
        .store
        .append_user_message(
            &args.tenant_id,
            &args.conversation_id,
            args.fence,
            inbound.source.as_str(),
            &inbound.dedup_key,
            &event,
        )
        .await;
    match outcome {
        Ok(AppendOutcome::Duplicate { message_id, seq }) => {
            reply.send(Reply::Ack(Ack {
                message_id,
                seq,
                duplicate: true,
            }));
            Ok(())
        }
        Ok(AppendOutcome::Stored { created_at }) => {
            live.last_seq = seq;
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
                meta: MessageMeta::NONE,
            };
            publish(args, live, message);
            live.queued.push_back((seq, inbound.text));
            pump(args, live, myself).await
        }
        Err(error) => {
            reply.send(TurnError::of_store(&error).into());
            // The in-memory seq may now disagree with the store: restart from the store.
            Err(error.into())
        }
    }
}

/// Feeds queued user messages to the engine until it waits for the model.
pub(super) async fn pump(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
) -> Result<(), ActorProcessingErr> {
    while !live.persisted.busy() {
        let Some((seq, text)) = live.queued.pop_front() else {
            break;
        };
        apply(args, live, myself, Event::UserText(text), seq, None).await?;
    }
    Ok(())
}

/// Runs one engine step, stores its output atomically, then publishes it.
/// `leading` is a finished bot message (an LLM reply) stored ahead of the step's output.
pub(super) async fn apply(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    event: Event,
    applied_seq: i64,
    leading: Option<(String, String)>,
) -> Result<(), ActorProcessingErr> {
    let step = dialog::step(&live.flow, &live.persisted.dialog, event);
    let mut out: Vec<Outgoing> = leading
        .into_iter()
        .map(|(id, text)| Outgoing::bot(id, text))
        .collect();
    let mut llm_turn = None;
    let mut adaptor_call = None;
    for effect in step.effects {
        match effect {
            Effect::Say { text } => out.push(Outgoing::bot(new_id(), text)),
            Effect::Choices { options } => {
                if let Some(question) = out.last_mut().filter(|o| o.role == Role::Bot) {
                    question.meta.choices = options;
                }
            }
            Effect::StreamLlm(turn) => llm_turn = Some(turn),
            Effect::CallAdaptor(call) => adaptor_call = Some(call),
            Effect::Handoff { queue, state } => {
                info!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                    queue = %queue, state = %state, "conversation handed off to a human");
                out.push(Outgoing::event(ConversationEvent::Handoff, &queue));
            }
            Effect::SlotSet { slot, value } => {
                debug!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                    slot = %slot, value = %value, "slot set");
            }
            Effect::Warning { message } => {
                warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                    flow = live.flow.id(), warning = %message, "flow warning");
            }
            Effect::Ended => {
                info!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                    "conversation ended");
                out.push(Outgoing::event(ConversationEvent::Ended, ""));
            }
        }
    }
    let persisted = PersistedState {
        dialog: step.state,
        pending_llm: llm_turn.map(|turn| PendingLlm {
            message_id: new_id(),
            turn,
        }),
        pending_call: adaptor_call.map(|call| PendingCall {
            call_id: new_id(),
            call,
        }),
    };
    let first_seq = live.last_seq + 1;
    let events: Vec<NewEvent<'_>> = out
        .iter()
        .enumerate()
        .map(|(i, o)| NewEvent {
            seq: first_seq + i as i64,
            message_id: &o.message_id,
            role: o.role,
            text: &o.text,
            meta: &o.meta,
        })
        .collect();
    let dialog_state = serde_json::to_string(&persisted)?;
    let created_at = args
        .services
        .store
        .commit_turn(
            &args.tenant_id,
            &args.conversation_id,
            args.fence,
            &events,
            &TurnState {
                dialog_state: &dialog_state,
                status: persisted.status_label(),
                applied_seq,
                outbox_account: live.channel_account.as_deref(),
            },
        )
        .await?;
    if out.iter().any(|o| o.role == Role::Bot) {
        notify_outbox(args, live);
    }
    live.last_seq += out.len() as i64;
    live.applied_seq = applied_seq;
    live.persisted = persisted;
    for (i, o) in out.into_iter().enumerate() {
        let message = Message {
            seq: first_seq + i as i64,
            message_id: o.message_id,
            role: o.role,
            text: o.text,
            created_at,
            meta: o.meta,
        };
        publish(args, live, message);
    }
    work::resume_pending(myself, args, live);
    Ok(())
}

/// Tells the channel sender that replies wait in the outbox (provider conversations).
fn notify_outbox(args: &ConversationArgs, live: &Live) {
    if let Some(account) = &live.channel_account {
        args.services
            .outbox
            .ready(&args.tenant_id, account, &args.conversation_id);
    }
}

/// Adds a stored message to the history and publishes it to every watcher.
fn publish(args: &ConversationArgs, live: &mut Live, message: Message) {
    let capacity = args.services.config.conversation.history_capacity.max(1);
    if live.history.len() == capacity {
        live.history.pop_front();
    }
    live.history.push_back(message.clone());
    args.services.bus.publish(
        &args.tenant_id,
        &args.conversation_id,
        BusEvent::Message(message),
    );
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
                // System notes are for the transcript only; agent replies are delivered.
                outbox_account: (role == Role::Agent)
                    .then_some(live.channel_account.as_deref())
                    .flatten(),
            },
        )
        .await?;
    live.last_seq = seq;
    if role == Role::Agent {
        notify_outbox(args, live);
    }
    publish(
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
    match store_message(args, live, Role::Agent, text, meta).await {
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
