//! ConversationActor: the single writer of one conversation.
//!
//! It handles one event at a time, which is the per-conversation ordering guarantee. For
//! each event it runs the pure dialog engine, stores what the engine produced (bot
//! messages and the new dialog state, in one transaction), and only then publishes it on
//! the bus. LLM replies stream in a task that publishes deltas directly and reports the
//! finished text back as a message, so the mailbox is never blocked by a model.
//!
//! Recovery: the actor is rebuilt from the store in `post_start`. User messages stored
//! but not yet applied by the engine (`seq > applied_seq`) are applied again, and an LLM
//! reply that was in flight (`pending_llm` in the persisted state) is requested again.
//! An idle actor asks its tenant to passivate it; the tenant decides, so no message
//! routed to it can be lost in between.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use super::AbortOnDrop;
use super::tenant::TenantMsg;
use crate::bus::BusEvent;
use crate::dialog::{self, AdaptorCall, CompiledFlow, DialogState, Effect, Event, LlmTurn, Status};
use crate::llm::{self, ChatMessage, CompletionRequest};
use crate::services::Services;
use crate::store::{AppendOutcome, NewEvent, StoreError, TurnState};
use crate::transcript::{Message, Role, new_id};

/// What the user sees when the model fails or times out.
pub const LLM_APOLOGY: &str =
    "Sorry, I couldn't come up with an answer just now. Please try again in a moment.";

/// An inbound user message, with the key that makes its delivery idempotent.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Where it came from, e.g. `webchat`; the dedup namespace.
    pub source: &'static str,
    /// Unique per message within `source` (client id, provider event id).
    pub dedup_key: String,
    pub text: String,
}

/// The answer to an inbound message: it is stored under `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub message_id: String,
    pub seq: i64,
    /// True when this key had been stored before and this is that earlier message.
    pub duplicate: bool,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnError {
    #[error("the message could not be stored; it was not accepted")]
    Store,
    #[error("the conversation is temporarily unavailable")]
    Unavailable,
    #[error("the conversation does not exist")]
    NotFound,
    #[error("the conversation is not with a human agent")]
    NotInHumanMode,
    /// Cluster mode: another node owns the conversation now; the router tries again.
    #[error("the conversation moved to another node")]
    Moved,
    /// Cluster mode: Redis is unreachable, so no node may take the conversation on.
    #[error("the cluster cannot assign this conversation while Redis is unreachable")]
    ClusterUnavailable,
}

impl TurnError {
    /// How a failed store write is reported to the one who asked.
    fn of_store(error: &StoreError) -> Self {
        match error {
            StoreError::Fenced { .. } => TurnError::Moved,
            _ => TurnError::Store,
        }
    }
}

pub enum ConversationMsg {
    /// Start the flow if it has not started yet (spawning the actor also resumes any
    /// interrupted work, see `post_start`).
    Start,
    UserMessage {
        inbound: Inbound,
        reply: RpcReplyPort<Result<Ack, TurnError>>,
    },
    LlmFinished {
        message_id: String,
        outcome: LlmOutcome,
    },
    AdaptorFinished {
        call_id: String,
        outcome: Result<serde_json::Value, String>,
    },
    /// A human agent writes to the user (the conversation is in human mode).
    AgentMessage {
        text: String,
        reply: RpcReplyPort<Result<Ack, TurnError>>,
    },
    /// A note for the transcript (e.g. a reply the provider refused); not delivered.
    SystemNote {
        text: String,
    },
    /// The human agent hands the conversation back to the bot.
    Release {
        reply: RpcReplyPort<Result<(), TurnError>>,
    },
    IdleTick,
    /// Sent by the tenant once it has stopped routing to this actor.
    Passivate,
    /// Fault injection for supervision tests and chaos drills: panics in the handler.
    InjectPanic,
}

/// What an LLM task reports: a streamed reply, or extracted values.
pub enum LlmOutcome {
    Text(Result<String, llm::LlmError>),
    Extracted(Result<serde_json::Map<String, serde_json::Value>, llm::LlmError>),
}

impl ConversationMsg {
    /// Answers a message that will never be handled (e.g. the conversation is quarantined).
    pub fn reject(self, error: TurnError) {
        match self {
            ConversationMsg::UserMessage { reply, .. }
            | ConversationMsg::AgentMessage { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            ConversationMsg::Release { reply } => {
                let _ = reply.send(Err(error));
            }
            _ => {}
        }
    }
}

/// The part of the actor's state that is stored in `conversations.dialog_state`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PersistedState {
    pub dialog: DialogState,
    /// An LLM reply requested but not yet stored; re-requested after a restart.
    #[serde(default)]
    pub pending_llm: Option<PendingLlm>,
    /// An adaptor call made but not yet answered; made again after a restart.
    #[serde(default)]
    pub pending_call: Option<PendingCall>,
}

impl PersistedState {
    /// True while the engine waits for the model or an adaptor.
    fn busy(&self) -> bool {
        self.pending_llm.is_some() || self.pending_call.is_some()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCall {
    pub call_id: String,
    pub call: AdaptorCall,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLlm {
    pub message_id: String,
    pub turn: LlmTurn,
}

pub struct ConversationArgs {
    pub tenant_id: Arc<str>,
    pub conversation_id: String,
    /// The fencing token of this node's lease (0 on a single node); every write carries it.
    pub fence: i64,
    pub services: Services,
    pub tenant: ActorRef<TenantMsg>,
}

pub struct ConversationActor;

pub struct ConversationState {
    args: ConversationArgs,
    /// Filled by `post_start` once the conversation is loaded from the store.
    live: Option<Live>,
    _idle_timer: Option<AbortOnDrop>,
}

struct Live {
    flow: Arc<CompiledFlow>,
    /// The tenant's model, when it overrides `llm.model`.
    model: Option<String>,
    /// The channel account of a provider conversation; its replies go through the outbox.
    channel_account: Option<String>,
    persisted: PersistedState,
    last_seq: i64,
    applied_seq: i64,
    /// Recent messages for LLM history, oldest first.
    history: VecDeque<Message>,
    /// Stored user messages the engine has not consumed yet (it is waiting on the LLM).
    queued: VecDeque<(i64, String)>,
    llm_task: Option<AbortOnDrop>,
    call_task: Option<AbortOnDrop>,
    last_activity: Instant,
    passivating: bool,
}

impl Actor for ConversationActor {
    type Msg = ConversationMsg;
    type State = ConversationState;
    type Arguments = ConversationArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ConversationArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ConversationState {
            args,
            live: None,
            _idle_timer: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let args = &state.args;
        let services = &args.services;
        let Some(row) = services
            .store
            .conversation(&args.tenant_id, &args.conversation_id)
            .await?
        else {
            warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                "conversation does not exist; stopping");
            myself.stop(Some("not found".into()));
            return Ok(());
        };
        let flow = services
            .flows
            .get(&args.tenant_id, &row.flow_id, row.flow_version)
            .await?;
        let persisted: PersistedState = serde_json::from_str(&row.dialog_state)?;
        let capacity = services.config.conversation.history_capacity;
        let history: VecDeque<Message> = services
            .store
            .recent_events(&args.tenant_id, &args.conversation_id, capacity as i64)
            .await?
            .into();
        let queued = services
            .store
            .events_after(
                &args.tenant_id,
                &args.conversation_id,
                row.applied_seq,
                10_000,
            )
            .await?
            .into_iter()
            .filter(|m| m.role == Role::User)
            .map(|m| (m.seq, m.text))
            .collect();
        let model = services
            .store
            .tenant(&args.tenant_id)
            .await?
            .and_then(|tenant| tenant.llm_model);
        let mut live = Live {
            flow,
            model,
            channel_account: row.channel_account.clone(),
            persisted,
            last_seq: row.last_seq,
            applied_seq: row.applied_seq,
            history,
            queued,
            llm_task: None,
            call_task: None,
            last_activity: Instant::now(),
            passivating: false,
        };
        debug!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
            last_seq = live.last_seq, queued = live.queued.len(), "conversation loaded");
        if live.persisted.busy() {
            resume_pending(&myself, args, &mut live);
        } else if let Err(error) = pump(args, &mut live, &myself).await {
            return stop_if_fenced(&myself, args, Err(error));
        }
        state.live = Some(live);
        let idle = Duration::from_secs(services.config.conversation.idle_timeout_secs);
        let tick = (idle / 4).max(Duration::from_millis(50));
        state._idle_timer = Some(AbortOnDrop(
            myself.send_interval(tick, || ConversationMsg::IdleTick),
        ));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let result = handle_message(myself.clone(), msg, state).await;
        stop_if_fenced(&myself, &state.args, result)
    }
}

/// A write refused by the fence means another node owns the conversation now: this
/// actor stops (it is not a failure to restart from), and its tenant reroutes.
fn stop_if_fenced(
    myself: &ActorRef<ConversationMsg>,
    args: &ConversationArgs,
    result: Result<(), ActorProcessingErr>,
) -> Result<(), ActorProcessingErr> {
    match result {
        Err(error)
            if matches!(
                error.downcast_ref::<StoreError>(),
                Some(StoreError::Fenced { .. })
            ) =>
        {
            warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                fence = args.fence, error = %error, "another node took the conversation over; stopping here");
            let _ = args.tenant.cast(TenantMsg::Fenced {
                conversation_id: args.conversation_id.clone(),
                actor: myself.get_id(),
            });
            myself.stop(Some("fenced".into()));
            Ok(())
        }
        other => other,
    }
}

async fn handle_message(
    myself: ActorRef<ConversationMsg>,
    msg: ConversationMsg,
    state: &mut ConversationState,
) -> Result<(), ActorProcessingErr> {
    {
        let ConversationState { args, live, .. } = state;
        let Some(live) = live.as_mut() else {
            msg.reject(TurnError::NotFound);
            return Ok(());
        };
        match msg {
            ConversationMsg::Start => {
                live.last_activity = Instant::now();
                if live.persisted.dialog.status == Status::NotStarted {
                    let applied = live.applied_seq;
                    apply(args, live, &myself, Event::Start, applied, None).await?;
                }
            }
            ConversationMsg::UserMessage { inbound, reply } => {
                live.last_activity = Instant::now();
                receive(args, live, &myself, inbound, reply).await?;
            }
            ConversationMsg::LlmFinished {
                message_id,
                outcome,
            } => {
                live.last_activity = Instant::now();
                finish_llm(args, live, &myself, message_id, outcome).await?;
                if live.passivating && !live.persisted.busy() {
                    myself.stop(Some("passivated".into()));
                }
            }
            ConversationMsg::AdaptorFinished { call_id, outcome } => {
                live.last_activity = Instant::now();
                finish_call(args, live, &myself, call_id, outcome).await?;
                if live.passivating && !live.persisted.busy() {
                    myself.stop(Some("passivated".into()));
                }
            }
            ConversationMsg::SystemNote { text } => {
                system_note(args, live, text).await?;
            }
            ConversationMsg::AgentMessage { text, reply } => {
                live.last_activity = Instant::now();
                agent_message(args, live, text, reply).await?;
            }
            ConversationMsg::Release { reply } => {
                live.last_activity = Instant::now();
                if matches!(live.persisted.dialog.status, Status::HumanMode { .. }) {
                    let applied = live.applied_seq;
                    apply(args, live, &myself, Event::Released, applied, None).await?;
                    let _ = reply.send(Ok(()));
                    pump(args, live, &myself).await?;
                } else {
                    let _ = reply.send(Err(TurnError::NotInHumanMode));
                }
            }
            ConversationMsg::IdleTick => {
                let idle = Duration::from_secs(args.services.config.conversation.idle_timeout_secs);
                if live.last_activity.elapsed() >= idle
                    && !live.persisted.busy()
                    && live.queued.is_empty()
                    && !live.passivating
                {
                    let _ = args.tenant.cast(TenantMsg::Idle {
                        conversation_id: args.conversation_id.clone(),
                        actor: myself.get_id(),
                    });
                    live.last_activity = Instant::now(); // ask again only after another idle period
                }
            }
            ConversationMsg::Passivate => {
                if live.persisted.busy() {
                    live.passivating = true;
                } else {
                    myself.stop(Some("passivated".into()));
                }
            }
            ConversationMsg::InjectPanic => {
                panic!("injected fault in conversation {}", args.conversation_id);
            }
        }
        Ok(())
    }
}

/// Stores an inbound user message, acks it, and hands it to the engine.
async fn receive(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    inbound: Inbound,
    reply: RpcReplyPort<Result<Ack, TurnError>>,
) -> Result<(), ActorProcessingErr> {
    let seq = live.last_seq + 1;
    let message_id = new_id();
    let event = NewEvent {
        seq,
        message_id: &message_id,
        role: Role::User,
        text: &inbound.text,
    };
    let outcome = args
        .services
        .store
        .append_user_message(
            &args.tenant_id,
            &args.conversation_id,
            args.fence,
            inbound.source,
            &inbound.dedup_key,
            &event,
        )
        .await;
    match outcome {
        Ok(AppendOutcome::Duplicate { message_id, seq }) => {
            let _ = reply.send(Ok(Ack {
                message_id,
                seq,
                duplicate: true,
            }));
            Ok(())
        }
        Ok(AppendOutcome::Stored { created_at }) => {
            live.last_seq = seq;
            let _ = reply.send(Ok(Ack {
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
            };
            publish(args, live, message);
            live.queued.push_back((seq, inbound.text));
            pump(args, live, myself).await
        }
        Err(error) => {
            let _ = reply.send(Err(TurnError::of_store(&error)));
            // The in-memory seq may now disagree with the store: restart from the store.
            Err(error.into())
        }
    }
}

/// Feeds queued user messages to the engine until it waits for the model.
async fn pump(
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
async fn apply(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    event: Event,
    applied_seq: i64,
    leading: Option<(String, String)>,
) -> Result<(), ActorProcessingErr> {
    let step = dialog::step(&live.flow, &live.persisted.dialog, event);
    let mut texts: Vec<(String, String)> = leading.into_iter().collect();
    let mut llm_turn = None;
    let mut adaptor_call = None;
    for effect in step.effects {
        match effect {
            Effect::Say { text } => texts.push((new_id(), text)),
            Effect::StreamLlm(turn) => llm_turn = Some(turn),
            Effect::CallAdaptor(call) => adaptor_call = Some(call),
            Effect::Handoff { queue, state } => {
                info!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                    queue = %queue, state = %state, "conversation handed off to a human");
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
    let events: Vec<NewEvent<'_>> = texts
        .iter()
        .enumerate()
        .map(|(i, (id, text))| NewEvent {
            seq: first_seq + i as i64,
            message_id: id,
            role: Role::Bot,
            text,
        })
        .collect();
    let dialog_state = serde_json::to_string(&persisted)?;
    let status = status_label(&persisted.dialog.status);
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
                status,
                applied_seq,
                outbox_account: live.channel_account.as_deref(),
            },
        )
        .await?;
    if !texts.is_empty() {
        notify_outbox(args, live);
    }
    live.last_seq += texts.len() as i64;
    live.applied_seq = applied_seq;
    live.persisted = persisted;
    for (i, (message_id, text)) in texts.into_iter().enumerate() {
        let message = Message {
            seq: first_seq + i as i64,
            message_id,
            role: Role::Bot,
            text,
            created_at,
        };
        publish(args, live, message);
    }
    resume_pending(myself, args, live);
    Ok(())
}

/// Starts whatever the engine waits for: the model or an adaptor.
fn resume_pending(myself: &ActorRef<ConversationMsg>, args: &ConversationArgs, live: &mut Live) {
    if live.persisted.pending_llm.is_some() {
        start_llm(myself, args, live);
    }
    if live.persisted.pending_call.is_some() {
        start_call(myself, args, live);
    }
}

/// Tells the channel sender that replies wait in the outbox (provider conversations).
fn notify_outbox(args: &ConversationArgs, live: &Live) {
    if let Some(account) = &live.channel_account {
        args.services
            .outbox
            .ready(&args.tenant_id, account, &args.conversation_id);
    }
}

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

/// Starts streaming the pending LLM reply in a task that reports back by message.
fn start_llm(myself: &ActorRef<ConversationMsg>, args: &ConversationArgs, live: &mut Live) {
    let Some(pending) = live.persisted.pending_llm.clone() else {
        return;
    };
    let request = completion_request(
        &pending.turn,
        &live.history,
        live.applied_seq,
        live.model.clone(),
    );
    let gateway = args.services.llm.clone();
    let bus = args.services.bus.clone();
    let tenant_id = args.tenant_id.clone();
    let conversation_id = args.conversation_id.clone();
    let reply_to = myself.clone();
    let message_id = pending.message_id;
    if let Some(extract) = pending.turn.extract.clone() {
        let task = tokio::spawn(async move {
            let outcome = gateway.extract(request, &extract.schema).await;
            let _ = reply_to.cast(ConversationMsg::LlmFinished {
                message_id,
                outcome: LlmOutcome::Extracted(outcome),
            });
        });
        live.llm_task = Some(AbortOnDrop(task));
        return;
    }
    let task = tokio::spawn(async move {
        let outcome = async {
            let mut stream = gateway.stream(request).await?;
            let mut text = String::new();
            let mut offset = 0;
            while let Some(fragment) = stream.next().await {
                let fragment = fragment?;
                if fragment.is_empty() {
                    continue;
                }
                let chars = fragment.chars().count();
                text.push_str(&fragment);
                bus.publish(
                    &tenant_id,
                    &conversation_id,
                    BusEvent::Delta {
                        message_id: message_id.clone(),
                        offset,
                        text: fragment,
                    },
                );
                offset += chars;
            }
            Ok(text)
        }
        .await;
        let _ = reply_to.cast(ConversationMsg::LlmFinished {
            message_id,
            outcome: LlmOutcome::Text(outcome),
        });
    });
    live.llm_task = Some(AbortOnDrop(task));
}

/// The chat messages sent to the model: system prompt, the recent transcript before the
/// user message being answered, then the rendered prompt. Shared with simulation.
pub(crate) fn completion_request(
    turn: &LlmTurn,
    history: &VecDeque<Message>,
    answering_seq: i64,
    model: Option<String>,
) -> CompletionRequest {
    let mut messages = Vec::new();
    if let Some(system) = turn.system.as_deref().filter(|s| !s.trim().is_empty()) {
        messages.push(ChatMessage {
            role: llm::Role::System,
            content: system.to_string(),
        });
    }
    let earlier: Vec<&Message> = history
        .iter()
        .filter(|m| m.seq < answering_seq && matches!(m.role, Role::User | Role::Bot | Role::Agent))
        .collect();
    let skip = earlier.len().saturating_sub(turn.history);
    for message in earlier.into_iter().skip(skip) {
        messages.push(ChatMessage {
            role: if message.role == Role::User {
                llm::Role::User
            } else {
                llm::Role::Assistant
            },
            content: message.text.clone(),
        });
    }
    messages.push(ChatMessage {
        role: llm::Role::User,
        content: turn.prompt.clone(),
    });
    CompletionRequest {
        messages,
        max_tokens: turn.max_tokens,
        temperature: turn.temperature,
        model,
    }
}

/// Stores the finished LLM reply (or the apology), or hands extracted values to the
/// engine, and lets the flow continue.
async fn finish_llm(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    message_id: String,
    outcome: LlmOutcome,
) -> Result<(), ActorProcessingErr> {
    let expected = live.persisted.pending_llm.as_ref().map(|p| &p.message_id);
    if expected != Some(&message_id) {
        return Ok(()); // a stale task from before a restart
    }
    live.llm_task = None;
    let applied = live.applied_seq;
    let log_failure = |error: &llm::LlmError| {
        warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
            code = error.code(), error = %error, "LLM request failed");
    };
    match outcome {
        LlmOutcome::Extracted(Ok(values)) => {
            apply(
                args,
                live,
                myself,
                Event::LlmExtracted { values },
                applied,
                None,
            )
            .await?;
        }
        LlmOutcome::Extracted(Err(error)) => {
            log_failure(&error);
            apply(args, live, myself, Event::LlmFailed, applied, None).await?;
        }
        LlmOutcome::Text(result) => {
            let (text, event) = match result {
                Ok(text) if !text.trim().is_empty() => (text.clone(), Event::LlmReply { text }),
                Ok(_) => {
                    warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                        code = "llm_empty_reply", "the model returned an empty reply");
                    (LLM_APOLOGY.to_string(), Event::LlmFailed)
                }
                Err(error) => {
                    log_failure(&error);
                    (LLM_APOLOGY.to_string(), Event::LlmFailed)
                }
            };
            apply(args, live, myself, event, applied, Some((message_id, text))).await?;
        }
    }
    pump(args, live, myself).await
}

/// Calls the pending adaptor in a task that reports back by message.
fn start_call(myself: &ActorRef<ConversationMsg>, args: &ConversationArgs, live: &mut Live) {
    let Some(pending) = live.persisted.pending_call.clone() else {
        return;
    };
    let services = args.services.clone();
    let tenant_id = args.tenant_id.clone();
    let reply_to = myself.clone();
    let task = tokio::spawn(async move {
        let outcome = super::adaptor_call::call(&services, &tenant_id, &pending.call)
            .await
            .map_err(|e| e.to_string());
        let _ = reply_to.cast(ConversationMsg::AdaptorFinished {
            call_id: pending.call_id,
            outcome,
        });
    });
    live.call_task = Some(AbortOnDrop(task));
}

async fn finish_call(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    call_id: String,
    outcome: Result<serde_json::Value, String>,
) -> Result<(), ActorProcessingErr> {
    let Some(pending) = live
        .persisted
        .pending_call
        .as_ref()
        .filter(|p| p.call_id == call_id)
    else {
        return Ok(()); // a stale task from before a restart
    };
    live.call_task = None;
    let event = match outcome {
        Ok(value) => Event::AdaptorResult { value },
        Err(error) => {
            warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                adaptor = %pending.call.adaptor, error = %error, "adaptor call failed; taking on_error");
            Event::AdaptorFailed { error }
        }
    };
    let applied = live.applied_seq;
    apply(args, live, myself, event, applied, None).await?;
    pump(args, live, myself).await
}

/// The conversation status column for a dialog status.
fn status_label(status: &Status) -> &'static str {
    match status {
        Status::Ended => "ended",
        Status::HumanMode { .. } => "handoff",
        _ => "active",
    }
}

/// Stores one message outside an engine step (agent messages, system notes) with the
/// current dialog state, then publishes it.
async fn store_message(
    args: &ConversationArgs,
    live: &mut Live,
    role: Role,
    text: String,
) -> Result<Ack, crate::store::StoreError> {
    let seq = live.last_seq + 1;
    let message_id = new_id();
    let event = NewEvent {
        seq,
        message_id: &message_id,
        role,
        text: &text,
    };
    let dialog_state = serde_json::to_string(&live.persisted)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
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
                status: status_label(&live.persisted.dialog.status),
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
        },
    );
    Ok(Ack {
        message_id,
        seq,
        duplicate: false,
    })
}

/// Stores and publishes a system note (never sent to a provider).
async fn system_note(
    args: &ConversationArgs,
    live: &mut Live,
    text: String,
) -> Result<(), ActorProcessingErr> {
    store_message(args, live, Role::System, text).await?;
    Ok(())
}

/// Stores and publishes a human agent's message.
async fn agent_message(
    args: &ConversationArgs,
    live: &mut Live,
    text: String,
    reply: RpcReplyPort<Result<Ack, TurnError>>,
) -> Result<(), ActorProcessingErr> {
    if !matches!(live.persisted.dialog.status, Status::HumanMode { .. }) {
        let _ = reply.send(Err(TurnError::NotInHumanMode));
        return Ok(());
    }
    match store_message(args, live, Role::Agent, text).await {
        Ok(ack) => {
            let _ = reply.send(Ok(ack));
            Ok(())
        }
        Err(error) => {
            let _ = reply.send(Err(TurnError::of_store(&error)));
            // The in-memory seq may now disagree with the store: restart from the store.
            Err(error.into())
        }
    }
}
