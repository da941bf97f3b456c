//! The conversation's slow work: LLM replies and adaptor calls. Each runs in a task that
//! reports back to the actor by message, so the mailbox is never blocked. Stream deltas
//! go straight from the task to the bus; only the finished reply comes back to be stored.
//! A result whose id no longer matches the pending work (a task from before a restart)
//! is ignored.

use futures_util::StreamExt;
use ractor::{ActorProcessingErr, ActorRef};
use tracing::{Instrument, warn};

use super::{
    BUDGET_MESSAGE, ConversationArgs, ConversationMsg, LLM_APOLOGY, Live, RATE_LIMIT_MESSAGE,
    adaptor_call, steps,
};
use crate::actors::AbortOnDrop;
use crate::bus::BusEvent;
use crate::dialog::Event;
use crate::knowledge::cite::{Citation, citations, footer};
use crate::knowledge::{KnowledgeError, NO_ANSWER_MESSAGE, Retrieval};
use crate::llm::{self, CallOrigin, prompt::completion_request};

/// What an LLM task reports: a streamed reply (with the sources it was given, for a
/// state that retrieves), extracted values, or that the knowledge bases held no answer.
pub enum LlmOutcome {
    /// The reply, and the sources it was given (none for a state that does not retrieve).
    Text(Result<String, llm::LlmError>, Vec<Citation>),
    Extracted(Result<serde_json::Map<String, serde_json::Value>, llm::LlmError>),
    NoAnswer,
    /// The knowledge store failed; the user gets the apology.
    RetrievalFailed(String),
}

/// Starts whatever the engine waits for: the model or an adaptor.
pub(super) fn resume_pending(
    myself: &ActorRef<ConversationMsg>,
    args: &ConversationArgs,
    live: &mut Live,
) {
    if live.persisted.pending_llm.is_some() {
        start_llm(myself, args, live);
    }
    if live.persisted.pending_call.is_some() {
        start_call(myself, args, live);
    }
}

/// Starts the pending LLM reply in a task that reports back by message.
fn start_llm(myself: &ActorRef<ConversationMsg>, args: &ConversationArgs, live: &mut Live) {
    let Some(pending) = live.persisted.pending_llm.clone() else {
        return;
    };
    let mut request = completion_request(
        &pending.turn,
        &live.history,
        live.applied_seq,
        live.model.clone(),
    );
    request.origin = CallOrigin {
        state: Some(pending.turn.state.clone()),
        ..live.charge_to.clone()
    };
    let gateway = args.services.llm.clone();
    let bus = args.services.bus.clone();
    let tenant_id = args.tenant_id.clone();
    let conversation_id = args.conversation_id.clone();
    let reply_to = myself.clone();
    let message_id = pending.message_id;
    if let Some(extract) = pending.turn.extract.clone() {
        let task = tokio::spawn(Instrument::instrument(
            async move {
                let outcome = gateway.extract(request, &extract.schema).await;
                let _ = reply_to.cast(ConversationMsg::LlmFinished {
                    message_id,
                    outcome: LlmOutcome::Extracted(outcome),
                });
            },
            work_span("llm call"),
        ));
        live.llm_task = Some(AbortOnDrop(task));
        return;
    }
    let retrieval = live.flow.knowledge_of(&pending.turn.state).cloned();
    let question = pending
        .turn
        .knowledge_query(&live.persisted.dialog.last_input);
    let knowledge = args.services.knowledge.clone();
    let task = tokio::spawn(Instrument::instrument(
        async move {
            let mut request = request;
            let mut cited = Vec::new();
            if let Some(spec) = &retrieval {
                let found = knowledge
                    .retrieve(&tenant_id, spec, &question, &request.origin)
                    .await;
                let early = match found {
                    Ok(Retrieval::Answer(hits)) => {
                        llm::prompt::add_knowledge(&mut request, &hits);
                        cited = citations(&hits);
                        None
                    }
                    Ok(Retrieval::NoAnswer) => Some(LlmOutcome::NoAnswer),
                    Err(KnowledgeError::Embedding(error)) => {
                        Some(LlmOutcome::Text(Err(error), Vec::new()))
                    }
                    Err(error) => Some(LlmOutcome::RetrievalFailed(error.to_string())),
                };
                if let Some(outcome) = early {
                    let _ = reply_to.cast(ConversationMsg::LlmFinished {
                        message_id,
                        outcome,
                    });
                    return;
                }
            }
            let started = std::time::Instant::now();
            let outcome = async {
                let mut stream = gateway.stream(request).await?;
                let mut text = String::new();
                let mut offset = 0;
                while let Some(fragment) = stream.next().await {
                    // Sanitised here, so the deltas, the stored reply and its replay agree.
                    let mut fragment = fragment?;
                    if let std::borrow::Cow::Owned(clean) = crate::transcript::storable(&fragment) {
                        fragment = clean;
                    }
                    if fragment.is_empty() {
                        continue;
                    }
                    let chars = fragment.chars().count();
                    if offset == 0 {
                        metrics::histogram!("switchboard_first_delta_seconds")
                            .record(started.elapsed().as_secs_f64());
                    }
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
            metrics::histogram!("switchboard_llm_reply_seconds")
                .record(started.elapsed().as_secs_f64());
            let outcome = LlmOutcome::Text(outcome, cited);
            let _ = reply_to.cast(ConversationMsg::LlmFinished {
                message_id,
                outcome,
            });
        },
        work_span("llm call"),
    ));
    live.llm_task = Some(AbortOnDrop(task));
}

/// Stores the finished LLM reply (or the apology), or hands extracted values to the
/// engine, and lets the flow continue.
pub(super) async fn finish_llm(
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
    let sources = match &outcome {
        LlmOutcome::Text(_, sources) => footer(sources),
        _ => String::new(),
    };
    let log_failure = |error: &llm::LlmError| {
        warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
            code = error.code(), error = %error, "LLM request failed");
    };
    if let LlmOutcome::Text(Err(llm::LlmError::BudgetExhausted { scope, message }), _)
    | LlmOutcome::Extracted(Err(llm::LlmError::BudgetExhausted { scope, message })) = outcome
    {
        // Nothing was sent upstream: the user gets the tenant's message, and the flow
        // its `on_budget` path (or a handoff).
        warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
            code = "llm_budget_exhausted", %scope, "a model budget stopped the call");
        let text = message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| BUDGET_MESSAGE.to_owned());
        let leading = Some((message_id, text));
        steps::apply(
            args,
            live,
            myself,
            Event::LlmBudgetExhausted,
            applied,
            leading,
        )
        .await?;
        return steps::pump(args, live, myself).await;
    }
    if let LlmOutcome::Text(Err(llm::LlmError::TenantRateLimited { message }), _)
    | LlmOutcome::Extracted(Err(llm::LlmError::TenantRateLimited { message })) = outcome
    {
        warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
            code = "llm_tenant_rate_limited", "the tenant's model rate limit stopped the call");
        let text = message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| RATE_LIMIT_MESSAGE.to_owned());
        let leading = Some((message_id, text));
        steps::apply(args, live, myself, Event::LlmFailed, applied, leading).await?;
        return steps::pump(args, live, myself).await;
    }
    match outcome {
        LlmOutcome::NoAnswer => return no_answer(args, live, myself, message_id).await,
        LlmOutcome::RetrievalFailed(error) => {
            warn!(tenant_id = %args.tenant_id, conversation_id = %args.conversation_id,
                error = %error, "knowledge retrieval failed");
            let leading = Some((message_id, LLM_APOLOGY.to_string()));
            steps::apply(args, live, myself, Event::LlmFailed, applied, leading).await?;
        }
        LlmOutcome::Extracted(Ok(values)) => {
            let event = Event::LlmExtracted { values };
            steps::apply(args, live, myself, event, applied, None).await?;
        }
        LlmOutcome::Extracted(Err(error)) => {
            log_failure(&error);
            steps::apply(args, live, myself, Event::LlmFailed, applied, None).await?;
        }
        LlmOutcome::Text(result, cited) => {
            let (text, event) = match result {
                Ok(text) if !text.trim().is_empty() => {
                    live.citations = cited;
                    (format!("{text}{sources}"), Event::LlmReply { text })
                }
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
            let leading = Some((message_id, text));
            let applied = steps::apply(args, live, myself, event, applied, leading).await;
            live.citations.clear();
            applied?;
        }
    }
    steps::pump(args, live, myself).await
}

/// The knowledge bases held no answer: the engine takes `on_no_answer` (told by
/// `Event::NoAnswer`), or says so and goes on when the state has none.
async fn no_answer(
    args: &ConversationArgs,
    live: &mut Live,
    myself: &ActorRef<ConversationMsg>,
    message_id: String,
) -> Result<(), ActorProcessingErr> {
    let Some(state) = live
        .persisted
        .pending_llm
        .as_ref()
        .map(|p| p.turn.state.clone())
    else {
        return Ok(());
    };
    let has_target = live
        .flow
        .knowledge_of(&state)
        .is_some_and(|spec| spec.on_no_answer.is_some());
    let leading = (!has_target).then(|| (message_id, NO_ANSWER_MESSAGE.to_owned()));
    let applied = live.applied_seq;
    steps::apply(
        args,
        live,
        myself,
        Event::NoAnswer { state },
        applied,
        leading,
    )
    .await?;
    steps::pump(args, live, myself).await
}

/// Calls the pending adaptor in a task that reports back by message.
fn start_call(myself: &ActorRef<ConversationMsg>, args: &ConversationArgs, live: &mut Live) {
    let Some(pending) = live.persisted.pending_call.clone() else {
        return;
    };
    let services = args.services.clone();
    let tenant_id = args.tenant_id.clone();
    let reply_to = myself.clone();
    let task = tokio::spawn(Instrument::instrument(
        async move {
            let outcome = adaptor_call::call(&services, &tenant_id, &pending.call)
                .await
                .map_err(|e| e.to_string());
            let _ = reply_to.cast(ConversationMsg::AdaptorFinished {
                call_id: pending.call_id,
                outcome,
            });
        },
        work_span("adaptor call"),
    ));
    live.call_task = Some(AbortOnDrop(task));
}

/// Hands the adaptor's answer (or failure) to the engine and lets the flow continue.
pub(super) async fn finish_call(
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
    steps::apply(args, live, myself, event, applied, None).await?;
    steps::pump(args, live, myself).await
}

/// The span of a model or adaptor call's task: a child of the turn that started it.
fn work_span(name: &'static str) -> tracing::Span {
    tracing::info_span!("conversation work", otel.name = name)
}
