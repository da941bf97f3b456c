//! Engine steps: run the dialog engine on an event ([`plan`]), store what it produced —
//! bot messages, system events, the new dialog state, outbox rows — in one commit, then
//! settle: update the actor, publish, start the slow work the engine now waits for. The
//! store comes first, so anything a watcher saw can be replayed.

use ractor::{ActorProcessingErr, ActorRef};
use tracing::{debug, info, warn};

use super::{ConversationArgs, ConversationMsg, Live, work};
use crate::bus::BusEvent;
use crate::dialog::{self, Effect, Event, Status};
use crate::store::NewEvent;
use crate::transcript::{ConversationEvent, Message, MessageMeta, Role, new_id};
use crate::turn::{PendingCall, PendingLlm, PendingTimer, PersistedState};

/// A message a step is about to store.
pub(super) struct Outgoing {
    pub message_id: String,
    pub role: Role,
    pub text: String,
    pub meta: MessageMeta,
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
    pub(super) fn event(event: ConversationEvent, detail: &str) -> Self {
        let text = match event {
            ConversationEvent::Handoff => format!("Handed off to a person (queue `{detail}`)."),
            ConversationEvent::Resolved => {
                "The person handed the conversation back to the bot.".into()
            }
            ConversationEvent::Ended => "The conversation ended.".into(),
            ConversationEvent::Takeover => format!("{detail} took the conversation over."),
            ConversationEvent::Assigned => format!("{detail} joined the conversation."),
            ConversationEvent::Transferred => format!("Transferred to queue `{detail}`."),
        };
        Self {
            message_id: new_id(),
            role: Role::System,
            text,
            meta: MessageMeta {
                event: Some(event),
                ..MessageMeta::NONE
            },
        }
    }
}

/// The outcome of one engine step, not stored yet.
pub(super) struct Planned {
    pub out: Vec<Outgoing>,
    pub persisted: PersistedState,
}

impl Planned {
    /// The step's messages as events to store, numbered from `first_seq`.
    pub fn events(&self, first_seq: i64) -> Vec<NewEvent<'_>> {
        self.out
            .iter()
            .enumerate()
            .map(|(i, o)| NewEvent {
                seq: first_seq + i as i64,
                message_id: &o.message_id,
                role: o.role,
                text: &o.text,
                meta: &o.meta,
            })
            .collect()
    }
}

/// Runs the engine on `event`. `leading` is a finished bot message (an LLM reply) that
/// goes ahead of the step's output.
pub(super) fn plan(
    args: &ConversationArgs,
    live: &Live,
    event: Event,
    leading: Option<(String, String)>,
) -> Planned {
    let step = dialog::step(&live.flow, &live.persisted.dialog, event);
    let mut out: Vec<Outgoing> = leading
        .into_iter()
        .map(|(id, text)| {
            let mut reply = Outgoing::bot(id, text);
            reply.meta.citations = live.citations.clone();
            reply
        })
        .collect();
    let mut llm_turn = None;
    let mut adaptor_call = None;
    let mut wait = None;
    for effect in step.effects {
        match effect {
            Effect::Wait { state, timeout_ms } => wait = Some((state, timeout_ms)),
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
    // A question with a timeout (re)starts its timer; one still waiting in the same
    // state keeps it; leaving the state drops it.
    let timer = match (&step.state.status, wait) {
        (Status::AwaitingInput { state }, Some((asked, timeout_ms))) if *state == asked => {
            Some(PendingTimer {
                state: asked,
                due_at: crate::store::now_ms()
                    .saturating_add(i64::try_from(timeout_ms).unwrap_or(i64::MAX)),
            })
        }
        (Status::AwaitingInput { state }, None) => live
            .persisted
            .timer
            .clone()
            .filter(|timer| timer.state == *state),
        _ => None,
    };
    // Transcripts show where each bot message left the conversation.
    let after = step.state.status.state_name();
    for bot in out.iter_mut().filter(|o| o.role == Role::Bot) {
        bot.meta.state = after.map(str::to_string);
    }
    Planned {
        out,
        persisted: PersistedState {
            dialog: step.state,
            pending_llm: llm_turn.map(|turn| PendingLlm {
                message_id: new_id(),
                turn,
            }),
            pending_call: adaptor_call.map(|call| PendingCall {
                call_id: new_id(),
                call,
            }),
            timer,
        },
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

/// Runs one engine step, stores its output atomically, then settles it.
pub(super) async fn apply(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    event: Event,
    applied_seq: i64,
    leading: Option<(String, String)>,
) -> Result<(), ActorProcessingErr> {
    let started = std::time::Instant::now();
    let planned = plan(args, live, event, leading);
    let first_seq = live.last_seq + 1;
    let dialog_state = serde_json::to_string(&planned.persisted)?;
    let created_at = args
        .services
        .store
        .commit_turn(
            &args.tenant_id,
            &args.conversation_id,
            args.fence,
            &planned.events(first_seq),
            &live.turn_state(&dialog_state, &planned.persisted, applied_seq),
        )
        .await?;
    metrics::histogram!("switchboard_turn_seconds").record(started.elapsed().as_secs_f64());
    settle(
        args,
        live,
        myself,
        planned,
        first_seq,
        created_at,
        applied_seq,
    );
    Ok(())
}

/// A stored step that put the conversation in human mode, or took it out, is told to
/// the tenant's alert hooks (`handoff.queued`, `handoff.resolved`), for an external
/// helpdesk.
fn handoff_moved(args: &ConversationArgs, before: Option<&str>, after: &PersistedState) {
    let (event, queue) = match (before, after.handoff_queue()) {
        (None, Some(queue)) => ("handoff.queued", queue),
        (Some(queue), None) => ("handoff.resolved", queue),
        _ => return,
    };
    let data = serde_json::json!({
        "conversation_id": args.conversation_id,
        "queue": queue,
        "state": after.dialog.status.state_name(),
    });
    let alerts = args.services.alerts.clone();
    let tenant_id = args.tenant_id.to_string();
    tokio::spawn(async move { alerts.raise(&tenant_id, event, data).await });
}

/// A stored step takes effect: the actor's state moves on, the messages are published,
/// and whatever the engine now waits for starts.
pub(super) fn settle(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    planned: Planned,
    first_seq: i64,
    created_at: i64,
    applied_seq: i64,
) {
    metrics::counter!("switchboard_turns_total").increment(1);
    let Planned { out, persisted } = planned;
    handoff_moved(args, live.persisted.handoff_queue(), &persisted);
    if out.iter().any(|o| o.role == Role::Bot) {
        notify_outbox(args, live);
    }
    live.last_seq = live.last_seq.max(first_seq - 1 + out.len() as i64);
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
}

/// Tells the channel sender that replies wait in the outbox (provider conversations).
pub(super) fn notify_outbox(args: &ConversationArgs, live: &Live) {
    if let Some(account) = &live.channel_account {
        args.services
            .outbox
            .ready(&args.tenant_id, account, &args.conversation_id);
    }
}

/// Adds a stored message to the history and publishes it to every watcher.
pub(super) fn publish(args: &ConversationArgs, live: &mut Live, message: Message) {
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
