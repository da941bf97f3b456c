//! ChannelSender: one actor per channel account, delivering replies to the provider.
//!
//! Per conversation it keeps an ordered queue and runs one job at a time, so replies
//! arrive in order; different conversations proceed in parallel. Two kinds of jobs:
//! stream updates (progressive display of an LLM reply, derived from bus deltas and
//! coalesced: a queued update is replaced by a newer one) and finals (a stored reply from
//! the outbox). A final is marked `sent` in the outbox only after the provider accepted
//! it, so a restart re-delivers what was not acknowledged, and a `sent` reply is never
//! sent again. Jobs run in tasks with bounded retries (see `retry.rs`); the result comes
//! back as a message, so the mailbox never waits on a provider.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::telemetry::metrics::Alive;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::Value;
use tracing::{error, warn};

use super::driver::{Driver, Remote, Streaming, Update};
use super::retry::RetryPolicy;
use crate::actors::{AbortOnDrop, Runtime};
use crate::bus::{BusEvent, FollowError, Follower};
use crate::channels::inbound::SendError;
use crate::store::OutboxRow;

/// A conversation nobody wrote to for this long stops being watched for deltas.
const WATCH_IDLE: Duration = Duration::from_secs(15 * 60);
/// How often pending outbox rows are swept (retries after a failed job, restarts).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

pub enum SenderMsg {
    OutboxReady {
        conversation_id: String,
    },
    /// A user wrote in this thread: remember where replies go, watch for deltas, and show
    /// a typing indicator where the provider has one.
    Watch {
        conversation_id: String,
        reply_to: Value,
    },
    Delta {
        conversation_id: String,
        message_id: String,
        fragment: String,
    },
    Done {
        conversation_id: String,
        outcome: JobOutcome,
    },
    Sweep,
}

pub struct JobOutcome {
    message_id: String,
    /// `Some` for a final: the provider's id or the error, and the attempts made.
    final_result: Option<(Result<Option<String>, SendError>, u32)>,
    remote: Remote,
}

pub struct SenderArgs {
    pub tenant_id: Arc<str>,
    pub account_id: String,
    pub driver: Arc<Driver>,
    pub runtime: Runtime,
    pub policy: RetryPolicy,
}

enum Job {
    Update { message_id: String, update: Update },
    Final(OutboxRow),
}

#[derive(Default)]
struct Conversation {
    reply_to: Option<Value>,
    queue: VecDeque<Job>,
    busy: bool,
    /// Streaming state per message in progress (actor side: throttles, paragraph splitters).
    streaming: HashMap<String, Streaming>,
    /// What the provider already shows per message (task side: ts, stream id, paragraphs).
    remote: HashMap<String, Remote>,
    /// Finals queued or running, so a sweep does not queue them twice.
    finals: HashSet<String>,
    watch: Option<AbortOnDrop>,
    last_activity: Option<Instant>,
}

pub struct SenderActor;

pub struct SenderState {
    _alive: Alive,
    args: SenderArgs,
    conversations: HashMap<String, Conversation>,
    _sweeper: Option<AbortOnDrop>,
}

impl Actor for SenderActor {
    type Msg = SenderMsg;
    type State = SenderState;
    type Arguments = SenderArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SenderMsg>,
        args: SenderArgs,
    ) -> Result<SenderState, ActorProcessingErr> {
        Ok(SenderState {
            _alive: Alive::new("sender"),
            args,
            conversations: HashMap::new(),
            _sweeper: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<SenderMsg>,
        state: &mut SenderState,
    ) -> Result<(), ActorProcessingErr> {
        state._sweeper = Some(AbortOnDrop(
            myself.send_interval(SWEEP_EVERY, || SenderMsg::Sweep),
        ));
        // Replies left pending by a previous run go out first.
        sweep(&myself, state).await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SenderMsg>,
        msg: SenderMsg,
        state: &mut SenderState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SenderMsg::OutboxReady { conversation_id } => {
                enqueue_pending(state, Some(&conversation_id)).await;
                kick(&myself, state, &conversation_id).await;
            }
            SenderMsg::Watch {
                conversation_id,
                reply_to,
            } => {
                let driver = state.args.driver.clone();
                let conversation = state
                    .conversations
                    .entry(conversation_id.clone())
                    .or_default();
                conversation.reply_to = Some(reply_to.clone());
                conversation.last_activity = Some(Instant::now());
                if conversation.watch.is_none() {
                    conversation.watch = Some(watch(&myself, &state.args, &conversation_id));
                }
                tokio::spawn(async move {
                    if let Err(e) = driver.typing(&reply_to).await {
                        tracing::debug!(error = %e, "typing indicator not sent");
                    }
                });
            }
            SenderMsg::Delta {
                conversation_id,
                message_id,
                fragment,
            } => {
                let driver = state.args.driver.clone();
                let Some(conversation) = state.conversations.get_mut(&conversation_id) else {
                    return Ok(());
                };
                let Some(reply_to) = conversation.reply_to.clone() else {
                    return Ok(());
                };
                if conversation.finals.contains(&message_id) {
                    return Ok(()); // the final is already on its way
                }
                let streaming = conversation
                    .streaming
                    .entry(message_id.clone())
                    .or_insert_with(|| driver.start_stream(&reply_to));
                if let Some(update) = driver.on_delta(streaming, &fragment, Instant::now()) {
                    let queued = conversation.queue.iter_mut().find_map(|job| match job {
                        Job::Update {
                            message_id: id,
                            update,
                        } if *id == message_id => Some(update),
                        _ => None,
                    });
                    match queued {
                        Some(existing) => existing.coalesce(update),
                        None => conversation
                            .queue
                            .push_back(Job::Update { message_id, update }),
                    }
                    kick(&myself, state, &conversation_id).await;
                }
            }
            SenderMsg::Done {
                conversation_id,
                outcome,
            } => {
                finish(state, &conversation_id, outcome).await;
                kick(&myself, state, &conversation_id).await;
            }
            SenderMsg::Sweep => sweep(&myself, state).await,
        }
        Ok(())
    }
}

/// Follows the conversation live and forwards reply deltas to the sender (each delta
/// once, in order; see [`Follower`]).
fn watch(myself: &ActorRef<SenderMsg>, args: &SenderArgs, conversation_id: &str) -> AbortOnDrop {
    let services = args.runtime.services();
    let (bus, store) = (services.bus.clone(), services.store.clone());
    let tenant_id = args.tenant_id.clone();
    let sender = myself.clone();
    let conversation_id = conversation_id.to_string();
    AbortOnDrop(tokio::spawn(async move {
        let mut follower = Follower::live(&bus, store, tenant_id, conversation_id.clone()).await;
        loop {
            match follower.next().await {
                Ok(event) => {
                    if let BusEvent::Delta {
                        message_id, text, ..
                    } = event.as_ref()
                    {
                        let _ = sender.cast(SenderMsg::Delta {
                            conversation_id: conversation_id.clone(),
                            message_id: message_id.clone(),
                            fragment: text.clone(),
                        });
                    }
                }
                // The final text always arrives through the outbox; deltas are a preview.
                Err(FollowError::Store(_)) => continue,
                Err(FollowError::Closed) => return,
            }
        }
    }))
}

/// Queues the pending outbox rows not queued yet (of one conversation, or all).
async fn enqueue_pending(state: &mut SenderState, conversation_id: Option<&str>) {
    let store = &state.args.runtime.services().store;
    let rows = match store
        .pending_outbox(
            &state.args.tenant_id,
            &state.args.account_id,
            conversation_id,
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            warn!(account = %state.args.account_id, error = %e, "cannot read the outbox; will retry");
            return;
        }
    };
    for row in rows {
        let conversation = state
            .conversations
            .entry(row.conversation_id.clone())
            .or_default();
        if conversation.finals.insert(row.message_id.clone()) {
            conversation.queue.push_back(Job::Final(row));
        }
    }
}

async fn sweep(myself: &ActorRef<SenderMsg>, state: &mut SenderState) {
    enqueue_pending(state, None).await;
    let now = Instant::now();
    let ids: Vec<String> = state.conversations.keys().cloned().collect();
    for id in &ids {
        kick(myself, state, id).await;
    }
    state.conversations.retain(|_, c| {
        c.busy
            || !c.queue.is_empty()
            || c.last_activity
                .is_some_and(|t| now.duration_since(t) < WATCH_IDLE)
    });
}

/// Starts the next job of a conversation unless one is running.
async fn kick(myself: &ActorRef<SenderMsg>, state: &mut SenderState, conversation_id: &str) {
    let store = state.args.runtime.services().store.clone();
    let tenant_id = state.args.tenant_id.clone();
    let Some(conversation) = state.conversations.get_mut(conversation_id) else {
        return;
    };
    if conversation.busy || conversation.queue.is_empty() {
        return;
    }
    if conversation.reply_to.is_none() {
        // After a restart: where replies go is stored with the conversation.
        match store.conversation(&tenant_id, conversation_id).await {
            Ok(Some(row)) => {
                conversation.reply_to = row.reply_to.and_then(|r| serde_json::from_str(&r).ok());
            }
            Ok(None) => {}
            Err(e) => {
                warn!(conversation_id, error = %e, "cannot load the reply target; will retry");
                return;
            }
        }
    }
    let Some(reply_to) = conversation.reply_to.clone() else {
        error!(
            conversation_id,
            "no reply target for this conversation; replies stay pending"
        );
        return;
    };
    let Some(job) = conversation.queue.pop_front() else {
        return;
    };
    conversation.busy = true;
    let driver = state.args.driver.clone();
    let policy = state.args.policy;
    let sender = myself.clone();
    let conversation_id = conversation_id.to_string();
    match job {
        Job::Update { message_id, update } => {
            let mut remote = conversation
                .remote
                .get(&message_id)
                .cloned()
                .unwrap_or_default();
            tokio::spawn(async move {
                for call in driver.plan_update(&reply_to, &remote, &update) {
                    let (result, _) = policy.run(|| driver.execute(&call)).await;
                    match result {
                        Ok(id) => remote.record(&call, id),
                        Err(e) => {
                            warn!(conversation_id = %conversation_id, error = %e, "stream update not delivered");
                            break;
                        }
                    }
                }
                let outcome = JobOutcome {
                    message_id,
                    final_result: None,
                    remote,
                };
                let _ = sender.cast(SenderMsg::Done {
                    conversation_id,
                    outcome,
                });
            });
        }
        Job::Final(row) => {
            let mut remote = conversation
                .remote
                .get(&row.message_id)
                .cloned()
                .unwrap_or_default();
            let streaming = conversation.streaming.remove(&row.message_id);
            tokio::spawn(async move {
                let mut attempts = 0;
                let mut last_id = None;
                let mut failure = None;
                let calls = match &row.template {
                    Some(template) => driver.plan_template(&reply_to, template),
                    None => driver.plan_final(&reply_to, streaming, &remote, &row.text),
                };
                for call in calls {
                    let (result, made) = policy.run(|| driver.execute(&call)).await;
                    attempts += made;
                    match result {
                        Ok(id) => {
                            remote.record(&call, id.clone());
                            last_id = id;
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                let result = match failure {
                    Some(e) => Err(e),
                    None => Ok(last_id),
                };
                let outcome = JobOutcome {
                    message_id: row.message_id,
                    final_result: Some((result, attempts)),
                    remote,
                };
                let _ = sender.cast(SenderMsg::Done {
                    conversation_id,
                    outcome,
                });
            });
        }
    }
}

/// Records a finished job: the outbox row for a final, the provider state for updates.
async fn finish(state: &mut SenderState, conversation_id: &str, outcome: JobOutcome) {
    let store = state.args.runtime.services().store.clone();
    let Some(conversation) = state.conversations.get_mut(conversation_id) else {
        return;
    };
    conversation.busy = false;
    let JobOutcome {
        message_id,
        final_result,
        remote,
    } = outcome;
    let Some((result, attempts)) = final_result else {
        // Teams sends further chunks only once the streamer knows the stream id.
        if let (Some(id), Some(Streaming::Teams(streamer))) = (
            &remote.stream_id,
            conversation.streaming.get_mut(&message_id),
        ) && streamer.stream_id().is_none()
        {
            streamer.set_stream_id(id.clone());
        }
        conversation.remote.insert(message_id, remote);
        return;
    };
    conversation.remote.remove(&message_id);
    conversation.finals.remove(&message_id);
    let attempts = i64::from(attempts);
    let provider = state.args.driver.provider().as_str();
    let outcome = if result.is_ok() { "sent" } else { "failed" };
    metrics::counter!("switchboard_outbound_total", "provider" => provider, "outcome" => outcome)
        .increment(1);
    if attempts > 1 {
        metrics::counter!("switchboard_outbound_retries_total", "provider" => provider)
            .increment(attempts as u64 - 1);
    }
    match result {
        Ok(provider_id) => {
            if let Err(e) = store
                .finish_outbox(
                    &state.args.tenant_id,
                    &message_id,
                    "sent",
                    attempts,
                    provider_id.as_deref(),
                    None,
                )
                .await
            {
                // Left pending: the next sweep may send it again. Logged loudly.
                error!(message_id = %message_id, error = %e, "reply sent but not marked sent");
            }
        }
        Err(e) => {
            error!(tenant_id = %state.args.tenant_id, conversation_id, message_id = %message_id,
                provider = state.args.driver.provider().as_str(), error = %e, "reply could not be delivered");
            let _ = store
                .finish_outbox(
                    &state.args.tenant_id,
                    &message_id,
                    "failed",
                    attempts,
                    None,
                    Some(&e.to_string()),
                )
                .await;
            let services = state.args.runtime.services();
            services
                .alerts
                .raise(
                    &state.args.tenant_id,
                    "delivery.failed",
                    serde_json::json!({
                        "conversation_id": conversation_id,
                        "message_id": message_id,
                        "channel": state.args.driver.provider().as_str(),
                        "attempts": attempts,
                        "error": e.to_string(),
                    }),
                )
                .await;
            if let Ok(Some(tenant)) = state.args.runtime.tenant(&state.args.tenant_id).await {
                tenant.system_note(
                    conversation_id,
                    format!(
                        "A reply could not be delivered to {}: {e}",
                        state.args.driver.provider().as_str()
                    ),
                );
            }
        }
    }
}
