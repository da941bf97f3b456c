//! ConversationActor: the single writer of one conversation.
//!
//! It handles one message at a time, which is the per-conversation ordering guarantee.
//! From outside it receives [`Command`]s and answers each with a [`Reply`]; everything
//! else in its mailbox is its own slow work reporting back. For each event it runs the
//! pure dialog engine, stores what the engine produced (bot messages and the new dialog
//! state, in one transaction), and only then publishes it on the bus ([`steps`]); a user
//! message the engine can take at once is stored in that same commit ([`messages`]). LLM
//! replies and adaptor calls run in tasks that report back by message ([`work`]), so the
//! mailbox is never blocked by a model or a tenant's API.
//!
//! Recovery: the actor is rebuilt from the store in `post_start`. User messages stored
//! but not yet applied by the engine (`seq > applied_seq`) are applied again, and an LLM
//! reply or adaptor call that was in flight (see [`PersistedState`]) is made again.
//! An idle actor asks its tenant to passivate it ([`Report::Idle`]); the tenant decides,
//! so no message routed to it can be lost in between.

mod adaptor_call;
mod messages;
mod steps;
mod work;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::{Instrument, debug, info, warn};

use crate::telemetry::metrics::Alive;

use super::AbortOnDrop;
use crate::dialog::{CompiledFlow, Event, Status};
use crate::llm::CallOrigin;
use crate::services::Services;
use crate::store::{StoreError, TurnState};
use crate::transcript::{ConversationEvent, Message, MessageMeta, Role};
use crate::turn::{Command, PersistedState, Reply, TurnError};
pub use work::LlmOutcome;

/// What the user sees when the model fails or times out.
pub const LLM_APOLOGY: &str =
    "Sorry, I couldn't come up with an answer just now. Please try again in a moment.";

/// What the user is told when the tenant's model rate limit stopped the call and the
/// tenant configured no message of its own.
pub const RATE_LIMIT_MESSAGE: &str =
    "We're answering a lot of questions right now. Please try again in a minute.";

/// What the user is told when a model budget stopped the call and the tenant configured
/// no message of its own.
pub const BUDGET_MESSAGE: &str =
    "Our assistant can't answer right now. A member of our team will get back to you.";

pub enum ConversationMsg {
    /// A command from an edge (on this node or forwarded by another one).
    Command {
        command: Command,
        reply: Responder,
    },
    /// The LLM task finished (see [`work`]).
    LlmFinished {
        message_id: String,
        outcome: LlmOutcome,
    },
    /// The adaptor call task finished.
    AdaptorFinished {
        call_id: String,
        outcome: Result<serde_json::Value, String>,
    },
    IdleTick,
    /// Sent by the tenant once it has stopped routing to this actor.
    Passivate,
}

/// Where a command's answer goes; nowhere for fire-and-forget commands. Dropping it
/// unanswered tells a waiting caller the conversation is unavailable.
pub struct Responder(Option<RpcReplyPort<Reply>>);

impl Responder {
    pub fn new(port: Option<RpcReplyPort<Reply>>) -> Self {
        Self(port)
    }

    pub fn send(self, reply: Reply) {
        if let Some(port) = self.0 {
            let _ = port.send(reply);
        }
    }

    pub fn into_port(self) -> Option<RpcReplyPort<Reply>> {
        self.0
    }
}

/// What a conversation tells its tenant.
#[derive(Debug)]
pub enum Report {
    /// Nothing happened for `conversation.idle_timeout_secs`: it may be passivated.
    Idle {
        conversation_id: String,
        actor: ActorId,
    },
    /// A store write was refused by the fence: another node owns the conversation now.
    Fenced {
        conversation_id: String,
        actor: ActorId,
    },
}

/// The typed handle a conversation reports through (its tenant builds it), so a
/// conversation never sees its parent's message type.
#[derive(Clone)]
pub struct ReportTo(Arc<dyn Fn(Report) + Send + Sync>);

impl ReportTo {
    pub fn new(report: impl Fn(Report) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    fn send(&self, report: Report) {
        (self.0)(report)
    }
}

pub struct ConversationArgs {
    pub tenant_id: Arc<str>,
    pub conversation_id: String,
    /// The fencing token of this node's lease (0 on a single node); every write carries it.
    pub fence: i64,
    pub services: Services,
    pub report_to: ReportTo,
}

pub struct ConversationActor;

pub struct ConversationState {
    args: ConversationArgs,
    /// Filled by `post_start` once the conversation is loaded from the store.
    live: Option<Live>,
    _idle_timer: Option<AbortOnDrop>,
    _alive: Alive,
}

/// A loaded conversation.
struct Live {
    flow: Arc<CompiledFlow>,
    /// The tenant's model, when it overrides `llm.model`.
    model: Option<String>,
    /// The channel account of a provider conversation; its replies go through the outbox.
    channel_account: Option<String>,
    /// A WhatsApp conversation: outside the 24-hour window only templates may be sent.
    whatsapp: bool,
    /// While set, a turn's messages are stored but not queued for delivery (a timer's
    /// messages outside WhatsApp's window).
    hold_outbox: bool,
    /// The sources of the LLM reply being stored (a knowledge state), for its message's
    /// `citations`; empty otherwise.
    citations: Vec<crate::transcript::Citation>,
    /// Who this conversation's model calls are charged to (the state is set per call).
    charge_to: CallOrigin,
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

impl Live {
    /// The conversation row's new state for a turn that leaves `persisted`.
    fn turn_state<'a>(
        &'a self,
        dialog_state: &'a str,
        persisted: &'a PersistedState,
        applied_seq: i64,
    ) -> TurnState<'a> {
        TurnState {
            dialog_state,
            status: persisted.status_label(),
            applied_seq,
            pending_work: persisted.busy() || !self.queued.is_empty(),
            outbox_account: self
                .channel_account
                .as_deref()
                .filter(|_| !self.hold_outbox),
            timer_due_at: persisted.timer.as_ref().map(|t| t.due_at),
            handoff_queue: persisted.handoff_queue(),
            assign_to: None,
        }
    }
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
            _alive: Alive::new("conversation"),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let args = &state.args;
        let Some(mut live) = load(args).await? else {
            warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                "conversation does not exist; stopping");
            myself.stop(Some("not found".into()));
            return Ok(());
        };
        debug!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
            last_seq = live.last_seq, queued = live.queued.len(), "conversation loaded");
        if live.persisted.busy() {
            work::resume_pending(&myself, args, &mut live);
        } else if let Err(error) = steps::pump(args, &mut live, &myself).await {
            return stop_if_fenced(&myself, args, Err(error));
        }
        state.live = Some(live);
        let idle = Duration::from_secs(args.services.config.conversation.idle_timeout_secs);
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
        let span = turn_span(&state.args, &msg);
        let result = handle_message(&myself, msg, state).instrument(span).await;
        stop_if_fenced(&myself, &state.args, result)
    }
}

/// The span of one turn of work: a command, or the result of a model or adaptor call
/// (tasks started within it are its children). Timer ticks and passivation get none.
fn turn_span(args: &ConversationArgs, msg: &ConversationMsg) -> tracing::Span {
    let work = match msg {
        ConversationMsg::Command { command, .. } => command.name(),
        ConversationMsg::LlmFinished { .. } => "llm_finished",
        ConversationMsg::AdaptorFinished { .. } => "adaptor_finished",
        ConversationMsg::IdleTick | ConversationMsg::Passivate => return tracing::Span::none(),
    };
    tracing::info_span!(
        "conversation turn",
        otel.name = %format!("conversation {work}"),
        tenant = %args.tenant_id,
        conversation = %args.conversation_id,
        work,
    )
}

/// Reads the conversation, its flow version and recent history from the store; `None`
/// when it does not exist.
async fn load(args: &ConversationArgs) -> Result<Option<Live>, ActorProcessingErr> {
    let services = &args.services;
    let store = &services.store;
    let Some(row) = store
        .conversation(&args.tenant_id, &args.conversation_id)
        .await?
    else {
        return Ok(None);
    };
    let flow = services
        .flows
        .get(&args.tenant_id, &row.flow_id, row.flow_version)
        .await?;
    let persisted: PersistedState = serde_json::from_str(&row.dialog_state)?;
    let capacity = services.config.conversation.history_capacity;
    let history: VecDeque<Message> = store
        .recent_events(&args.tenant_id, &args.conversation_id, capacity as i64)
        .await?
        .into();
    let queued = store
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
    let model = store
        .tenant(&args.tenant_id)
        .await?
        .and_then(|tenant| tenant.llm_model);
    let charge_to = CallOrigin {
        tenant_id: args.tenant_id.to_string(),
        conversation_id: Some(args.conversation_id.clone()),
        flow_id: Some(row.flow_id.clone()),
        flow_version: Some(row.flow_version),
        state: None,
        channel: Some(row.channel.clone()),
    };
    Ok(Some(Live {
        flow,
        model,
        channel_account: row.channel_account,
        whatsapp: row.channel == "whatsapp",
        hold_outbox: false,
        citations: Vec::new(),
        charge_to,
        persisted,
        last_seq: row.last_seq,
        applied_seq: row.applied_seq,
        history,
        queued,
        llm_task: None,
        call_task: None,
        last_activity: Instant::now(),
        passivating: false,
    }))
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
            args.report_to.send(Report::Fenced {
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
    myself: &ActorRef<ConversationMsg>,
    msg: ConversationMsg,
    state: &mut ConversationState,
) -> Result<(), ActorProcessingErr> {
    let ConversationState { args, live, .. } = state;
    let Some(live) = live.as_mut() else {
        if let ConversationMsg::Command { reply, .. } = msg {
            reply.send(TurnError::NotFound.into());
        }
        return Ok(());
    };
    match msg {
        ConversationMsg::Command { command, reply } => {
            if !matches!(command, Command::SystemNote { .. }) {
                live.last_activity = Instant::now();
            }
            run_command(args, live, myself, command, reply).await?;
        }
        ConversationMsg::LlmFinished {
            message_id,
            outcome,
        } => {
            live.last_activity = Instant::now();
            work::finish_llm(args, live, myself, message_id, outcome).await?;
            stop_if_passivated(myself, live);
        }
        ConversationMsg::AdaptorFinished { call_id, outcome } => {
            live.last_activity = Instant::now();
            work::finish_call(args, live, myself, call_id, outcome).await?;
            stop_if_passivated(myself, live);
        }
        ConversationMsg::IdleTick => {
            let idle = Duration::from_secs(args.services.config.conversation.idle_timeout_secs);
            if live.last_activity.elapsed() >= idle
                && !live.persisted.busy()
                && live.queued.is_empty()
                && !live.passivating
            {
                args.report_to.send(Report::Idle {
                    conversation_id: args.conversation_id.clone(),
                    actor: myself.get_id(),
                });
                live.last_activity = Instant::now(); // ask again only after another idle period
            }
        }
        ConversationMsg::Passivate => {
            live.passivating = true;
            stop_if_passivated(myself, live);
        }
    }
    Ok(())
}

/// A passivating conversation stops once no slow work is outstanding.
fn stop_if_passivated(myself: &ActorRef<ConversationMsg>, live: &Live) {
    if live.passivating && !live.persisted.busy() {
        crate::memory::passivated();
        myself.stop(Some("passivated".into()));
    }
}

async fn run_command(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    command: Command,
    reply: Responder,
) -> Result<(), ActorProcessingErr> {
    match command {
        Command::Start => {
            if live.persisted.dialog.status == Status::NotStarted {
                let applied = live.applied_seq;
                steps::apply(args, live, myself, Event::Start, applied, None).await?;
            }
            reply.send(Reply::Done);
        }
        Command::UserMessage(inbound) => {
            messages::receive(args, live, myself, inbound, reply).await?;
        }
        Command::AgentMessage { text, author } => {
            messages::agent_message(args, live, text, author, reply).await?
        }
        Command::Release => {
            if matches!(live.persisted.dialog.status, Status::HumanMode { .. }) {
                messages::note_event(args, live, ConversationEvent::Resolved).await?;
                let applied = live.applied_seq;
                steps::apply(args, live, myself, Event::Released, applied, None).await?;
                reply.send(Reply::Done);
                steps::pump(args, live, myself).await?;
            } else {
                reply.send(TurnError::NotInHumanMode.into());
            }
        }
        Command::ReleaseTo { state } => {
            if !matches!(live.persisted.dialog.status, Status::HumanMode { .. }) {
                reply.send(TurnError::NotInHumanMode.into());
            } else if !live.flow.states.contains_key(&state) {
                reply.send(TurnError::NoSuchState.into());
            } else {
                messages::note_event(args, live, ConversationEvent::Resolved).await?;
                let applied = live.applied_seq;
                let event = Event::ReleasedTo { state };
                steps::apply(args, live, myself, event, applied, None).await?;
                reply.send(Reply::Done);
                steps::pump(args, live, myself).await?;
            }
        }
        Command::TakeOver {
            agent_id,
            agent_name,
            queue,
        } => messages::take_over(args, live, &agent_id, &agent_name, queue, reply).await?,
        Command::AgentNote { text, author } => {
            messages::agent_note(args, live, text, author, reply).await?
        }
        Command::Mark { event, detail } => {
            if matches!(live.persisted.dialog.status, Status::HumanMode { .. }) {
                messages::mark(args, live, event, &detail).await?;
                reply.send(Reply::Done);
            } else {
                reply.send(TurnError::NotInHumanMode.into());
            }
        }
        Command::SystemNote { text } => {
            messages::store_message(args, live, Role::System, text, MessageMeta::NONE).await?;
            reply.send(Reply::Done);
        }
        Command::Timer { due_at } => {
            let timer = live
                .persisted
                .timer
                .clone()
                .filter(|timer| timer.due_at == due_at);
            if let Some(timer) = timer {
                debug!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                    state = %timer.state, "timer fired");
                messages::timer_fired(args, live, myself, timer.state).await?;
                metrics::counter!("switchboard_timers_fired_total").increment(1);
            }
            reply.send(Reply::Done);
            steps::pump(args, live, myself).await?;
        }
        Command::Erase => {
            let erased = args
                .services
                .store
                .erase_conversation(&args.tenant_id, &args.conversation_id, args.fence)
                .await?;
            reply.send(if erased {
                Reply::Done
            } else {
                TurnError::NotFound.into()
            });
            info!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                "conversation erased");
            myself.stop(Some("erased".into()));
        }
        Command::InjectPanic => {
            panic!("injected fault in conversation {}", args.conversation_id);
        }
    }
    Ok(())
}
