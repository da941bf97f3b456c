//! Simulation: runs a flow against scripted user turns in memory and returns the
//! transcript, with a trace for the console's inspector: the state after each turn, and
//! each model call (its prompt, tokens and latency) and adaptor call (arguments and what
//! the stub answered). The model is the offline one and adaptors are stubbed, so a
//! simulation is fast, free and deterministic; nothing is stored, metered or counted in
//! analytics. It drives the same engine and builds the same model requests as a live
//! conversation.
//!
//! An `llm` state with `knowledge` retrieves from the tenant's knowledge bases when the
//! caller passes them ([`TenantKnowledge`]: the admin API's simulate and test cases do)
//! through the live path, [`Knowledge::ground`], on_no_answer included. Its question is
//! embedded by the tenant's embedding model (the stored vectors came from it), so that
//! one call is metered to the tenant, on channel `simulate`; the reply is still the
//! offline model's. Without them (the local CLI) the state is simulated without its
//! knowledge, with a warning.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::dialog::{self, CompiledFlow, DialogState, Effect, Event, LlmTurn, Status};
use crate::knowledge::cite::{Citation, footer};
use crate::knowledge::{Grounding, Knowledge, KnowledgeError, NO_ANSWER_MESSAGE};
use crate::llm::prompt::completion_request;
use crate::llm::{CallOrigin, CompletionRequest, LlmError, LlmGateway, MemorySink};
use crate::transcript::{Message, MessageMeta, Role};

/// Most engine steps one user turn may cause (model and adaptor answers included).
const MAX_STEPS_PER_TURN: usize = 64;

/// What an adaptor answers in a simulation.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum Stub {
    /// The mapped result object.
    Result(Value),
    /// A failure (the flow takes `on_error`).
    Error(String),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimulatedMessage {
    /// `bot`, `user` or `system` (notes such as handoffs and adaptor calls).
    pub role: String,
    pub text: String,
}

/// A model or adaptor call the simulated conversation made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimulatedCall {
    /// The user turn it belongs to (0: before the first user message).
    pub turn: usize,
    /// The flow state that made it.
    pub state: String,
    /// `model` (a streamed reply), `extract` (structured extraction), `knowledge` (a
    /// retrieval before a reply) or `adaptor`.
    pub kind: String,
    /// The model, the adaptor's name, or the knowledge bases searched.
    pub name: String,
    /// Model calls: the messages sent, as `{role, content}`.
    #[schema(value_type = Option<Vec<Object>>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Vec<Value>>,
    /// Adaptor calls: the rendered arguments; retrievals: `{query}`.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    /// `ok`, or `failed` with `error`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What came back: the reply text, the extracted values, the adaptor's result, or
    /// the chunks retrieved (`[{title, url, similarity}]`, empty: no answer).
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Model calls: prompt and completion tokens, as the model counts them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    /// Model calls: how long the call took in the simulator (the offline model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

/// A question waiting for an answer, with the time it waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WaitingTimeout {
    pub state: String,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimulationResult {
    pub transcript: Vec<SimulatedMessage>,
    /// `active`, `ended`, `handoff` or `waiting`.
    pub status: String,
    /// The state the conversation is in (the one waiting for input, for a model or
    /// adaptor, or handed off); none once it ended.
    pub state: Option<String>,
    /// The state after each turn: `states[0]` after the start, `states[n]` after the
    /// n-th user message.
    pub states: Vec<Option<String>>,
    /// Every model and adaptor call, in order.
    pub calls: Vec<SimulatedCall>,
    /// The question waiting with a `timeout` at the end, if any: a request with
    /// `timeouts` can let it pass.
    pub waiting_timeout: Option<WaitingTimeout>,
    #[schema(value_type = Object)]
    pub slots: BTreeMap<String, Value>,
    /// Flow warnings (conditions that failed to evaluate, …).
    pub warnings: Vec<String>,
}

/// A tenant's knowledge bases, for the states of a simulated flow that retrieve.
#[derive(Clone)]
pub struct TenantKnowledge {
    pub knowledge: Knowledge,
    pub tenant_id: String,
}

/// Runs `flow` from its start through `turns`.
pub async fn simulate(
    flow: &CompiledFlow,
    turns: &[String],
    stubs: &BTreeMap<String, Stub>,
) -> SimulationResult {
    simulate_with_timeouts(flow, turns, stubs, &[]).await
}

/// Like [`simulate`], and a question's `timeout` passes (unanswered) after each turn
/// listed in `timeouts` (0: after the start, n: after the n-th user message), when a
/// question is then waiting with one.
pub async fn simulate_with_timeouts(
    flow: &CompiledFlow,
    turns: &[String],
    stubs: &BTreeMap<String, Stub>,
    timeouts: &[usize],
) -> SimulationResult {
    simulate_with_knowledge(flow, turns, stubs, timeouts, None).await
}

/// Like [`simulate_with_timeouts`], and states with `knowledge` retrieve from
/// `knowledge` as a live conversation does.
pub async fn simulate_with_knowledge(
    flow: &CompiledFlow,
    turns: &[String],
    stubs: &BTreeMap<String, Stub>,
    timeouts: &[usize],
    knowledge: Option<&TenantKnowledge>,
) -> SimulationResult {
    let usage = MemorySink::default();
    let mut run = Run {
        flow,
        stubs,
        knowledge,
        llm: LlmGateway::offline(Duration::ZERO).with_usage_sink(Arc::new(usage.clone())),
        usage,
        turn: 0,
        waiting: None,
        state: DialogState::default(),
        history: VecDeque::new(),
        result: SimulationResult {
            transcript: Vec::new(),
            status: String::new(),
            state: None,
            states: Vec::new(),
            calls: Vec::new(),
            waiting_timeout: None,
            slots: BTreeMap::new(),
            warnings: Vec::new(),
        },
    };
    run.feed(Event::Start).await;
    run.time_out_if(timeouts.contains(&0)).await;
    run.result.states.push(state_name(&run.state.status));
    for (n, turn) in turns.iter().enumerate() {
        run.turn += 1;
        run.record(Role::User, turn);
        run.feed(Event::UserText(turn.clone())).await;
        run.time_out_if(timeouts.contains(&(n + 1))).await;
        run.result.states.push(state_name(&run.state.status));
    }
    run.result.waiting_timeout = run.current_wait();
    run.result.state = state_name(&run.state.status);
    run.result.slots = run.state.slots.clone();
    run.result.status = match &run.state.status {
        Status::Ended => "ended",
        Status::HumanMode { .. } => "handoff",
        Status::AwaitingInput { .. } => "active",
        _ => "waiting",
    }
    .to_string();
    run.result
}

/// The state a conversation with this status is in.
fn state_name(status: &Status) -> Option<String> {
    status.state_name().map(str::to_string)
}

impl SimulatedCall {
    /// A call that succeeded, with nothing recorded yet.
    fn new(turn: usize, state: &str, kind: &str, name: String) -> Self {
        SimulatedCall {
            turn,
            state: state.to_string(),
            kind: kind.to_string(),
            name,
            prompt: None,
            args: None,
            outcome: "ok".into(),
            error: None,
            result: None,
            tokens_in: None,
            tokens_out: None,
            latency_ms: None,
        }
    }

    fn failed(&mut self, error: String) {
        self.outcome = "failed".into();
        self.error = Some(error);
    }
}

struct Run<'a> {
    flow: &'a CompiledFlow,
    stubs: &'a BTreeMap<String, Stub>,
    /// Where states with `knowledge` retrieve from; `None`: they simulate without it.
    knowledge: Option<&'a TenantKnowledge>,
    llm: LlmGateway,
    /// The offline model's metering: tokens and latency of each call.
    usage: MemorySink,
    /// The user turn being fed (0: the start).
    turn: usize,
    /// The question waiting with a timer, as the runtime would keep it.
    waiting: Option<WaitingTimeout>,
    state: DialogState,
    history: VecDeque<Message>,
    result: SimulationResult,
}

impl Run<'_> {
    fn record(&mut self, role: Role, text: &str) {
        let seq = self.history.len() as i64 + 1;
        self.history.push_back(Message {
            seq,
            message_id: seq.to_string(),
            role,
            text: text.to_string(),
            created_at: 0,
            meta: MessageMeta::NONE,
        });
        self.result.transcript.push(SimulatedMessage {
            role: role.as_str().to_string(),
            text: text.to_string(),
        });
    }

    /// A model call about to be made from `state`, with its prompt.
    fn model_call(&self, state: &str, request: &CompletionRequest) -> SimulatedCall {
        let model = request
            .model
            .clone()
            .unwrap_or_else(|| self.llm.model().to_string());
        let mut call = SimulatedCall::new(self.turn, state, "model", model);
        call.prompt = Some(
            request
                .messages
                .iter()
                .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
                .collect(),
        );
        call
    }

    /// Grounds a reply of a state with `knowledge` as the runtime does: the sources
    /// the reply cites, or the event that replaces the model call (no answer, after the
    /// runtime's message when there is no `on_no_answer`; a failed retrieval).
    async fn ground(
        &mut self,
        turn: &LlmTurn,
        request: &mut CompletionRequest,
    ) -> Result<Vec<Citation>, Event> {
        let Some(spec) = self
            .flow
            .knowledge_of(&turn.state)
            .filter(|_| turn.extract.is_none())
        else {
            return Ok(Vec::new());
        };
        let Some(tenant) = self.knowledge else {
            self.result.warnings.push(format!(
                "state `{}` retrieves from knowledge bases, which this simulation cannot reach: simulated without them",
                turn.state
            ));
            return Ok(Vec::new());
        };
        let question = turn.knowledge_query(&self.state.last_input);
        request.origin = CallOrigin {
            tenant_id: tenant.tenant_id.clone(),
            state: Some(turn.state.clone()),
            channel: Some("simulate".into()),
            ..CallOrigin::default()
        };
        let mut call = SimulatedCall::new(
            self.turn,
            &turn.state,
            "knowledge",
            spec.knowledge_bases.join(", "),
        );
        call.args = Some(serde_json::json!({ "query": question }));
        let found = tenant
            .knowledge
            .ground(&tenant.tenant_id, spec, &question, request)
            .await;
        let outcome = match found {
            Ok(Grounding::Answer { hits, citations }) => {
                call.result = Some(Value::Array(
                    hits.iter()
                        .map(|h| {
                            serde_json::json!({"title": h.title, "url": h.link(), "similarity": h.similarity})
                        })
                        .collect(),
                ));
                Ok(citations)
            }
            Ok(Grounding::NoAnswer) => {
                call.result = Some(Value::Array(Vec::new()));
                Err(None)
            }
            Err(error) => {
                call.failed(error.to_string());
                Err(Some(error))
            }
        };
        self.result.calls.push(call);
        match outcome {
            Ok(citations) => Ok(citations),
            Err(None) => {
                if spec.on_no_answer.is_none() {
                    self.record(Role::Bot, NO_ANSWER_MESSAGE);
                }
                Err(Event::NoAnswer {
                    state: turn.state.clone(),
                })
            }
            Err(Some(KnowledgeError::Embedding(LlmError::BudgetExhausted { .. }))) => {
                Err(Event::LlmBudgetExhausted)
            }
            Err(Some(_)) => Err(Event::LlmFailed),
        }
    }

    fn note(&mut self, text: String) {
        self.result.transcript.push(SimulatedMessage {
            role: "system".into(),
            text,
        });
    }

    /// The question still waiting with a timer: asked with a `timeout`, not left since.
    fn current_wait(&self) -> Option<WaitingTimeout> {
        self.waiting.clone().filter(|wait| {
            matches!(&self.state.status, Status::AwaitingInput { state } if *state == wait.state)
        })
    }

    /// Lets the waiting question's timeout pass, when `now` and one is waiting.
    async fn time_out_if(&mut self, now: bool) {
        let Some(wait) = self.current_wait().filter(|_| now) else {
            return;
        };
        self.waiting = None;
        self.note(format!(
            "no answer to `{}` within its timeout ({} s)",
            wait.state,
            wait.timeout_ms / 1000
        ));
        self.feed(Event::Timeout { state: wait.state }).await;
    }

    async fn feed(&mut self, first: Event) {
        let mut next = Some(first);
        for _ in 0..MAX_STEPS_PER_TURN {
            let Some(event) = next.take() else { return };
            let step = dialog::step(self.flow, &self.state, event);
            self.state = step.state;
            for effect in step.effects {
                match effect {
                    Effect::Say { text } => self.record(Role::Bot, &text),
                    Effect::StreamLlm(turn) => {
                        let answering = self.history.back().map_or(0, |m| m.seq + 1);
                        let mut request = completion_request(&turn, &self.history, answering, None);
                        let cited = match self.ground(&turn, &mut request).await {
                            Ok(cited) => cited,
                            Err(event) => {
                                next = Some(event);
                                continue;
                            }
                        };
                        let mut call = self.model_call(&turn.state, &request);
                        let event = match &turn.extract {
                            Some(extract) => {
                                call.kind = "extract".into();
                                match self.llm.extract(request, &extract.schema).await {
                                    Ok(values) => {
                                        call.result = serde_json::to_value(&values).ok();
                                        Event::LlmExtracted { values }
                                    }
                                    Err(e) => {
                                        call.failed(e.to_string());
                                        Event::LlmFailed
                                    }
                                }
                            }
                            None => match self.llm.stream(request).await {
                                Ok(stream) => {
                                    let parts: Vec<_> = stream.collect().await;
                                    let text: Result<String, _> = parts.into_iter().collect();
                                    match text {
                                        Ok(text) => {
                                            self.record(
                                                Role::Bot,
                                                &format!("{text}{}", footer(&cited)),
                                            );
                                            call.result = Some(Value::String(text.clone()));
                                            Event::LlmReply { text }
                                        }
                                        Err(e) => {
                                            call.failed(e.to_string());
                                            Event::LlmFailed
                                        }
                                    }
                                }
                                Err(e) => {
                                    call.failed(e.to_string());
                                    Event::LlmFailed
                                }
                            },
                        };
                        if let Some(metered) = self.usage.calls().last() {
                            call.tokens_in = Some(metered.usage.tokens_in);
                            call.tokens_out = Some(metered.usage.tokens_out);
                            call.latency_ms = Some(metered.latency_ms);
                        }
                        self.result.calls.push(call);
                        next = Some(event);
                    }
                    Effect::CallAdaptor(call) => {
                        let mut traced = SimulatedCall::new(
                            self.turn,
                            &call.state,
                            "adaptor",
                            call.adaptor.clone(),
                        );
                        traced.args = serde_json::to_value(&call.args).ok();
                        match self.stubs.get(&call.adaptor) {
                            Some(Stub::Result(value)) => traced.result = Some(value.clone()),
                            Some(Stub::Error(error)) => traced.failed(error.clone()),
                            None => traced.failed("no stub".into()),
                        }
                        self.result.calls.push(traced);
                        let args = serde_json::to_string(&call.args).unwrap_or_default();
                        next = Some(match self.stubs.get(&call.adaptor) {
                            Some(Stub::Result(value)) => {
                                self.note(format!("adaptor `{}` called with {args}", call.adaptor));
                                Event::AdaptorResult {
                                    value: value.clone(),
                                }
                            }
                            Some(Stub::Error(error)) => {
                                self.note(format!(
                                    "adaptor `{}` called with {args}: failed ({error})",
                                    call.adaptor
                                ));
                                Event::AdaptorFailed {
                                    error: error.clone(),
                                }
                            }
                            None => {
                                self.note(format!(
                                    "adaptor `{}` called with {args}: no stub, so it fails",
                                    call.adaptor
                                ));
                                Event::AdaptorFailed {
                                    error: "no stub".into(),
                                }
                            }
                        });
                    }
                    Effect::Handoff { queue, .. } => {
                        self.note(format!("handed off to a human in queue `{queue}`"))
                    }
                    Effect::Warning { message } => self.result.warnings.push(message),
                    Effect::Wait { state, timeout_ms } => {
                        self.waiting = Some(WaitingTimeout { state, timeout_ms });
                    }
                    Effect::SlotSet { .. } | Effect::Choices { .. } | Effect::Ended => {}
                }
            }
        }
        self.result.warnings.push(format!(
            "stopped after {MAX_STEPS_PER_TURN} steps in one turn"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_the_demo_flow_with_the_offline_model() {
        let source = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/demo.yaml"));
        let flow = dialog::compile("demo.yaml", source).unwrap();
        let turns: Vec<String> = ["Ada", "billing", "Where is my invoice?", "bye"]
            .map(String::from)
            .to_vec();
        let result = simulate(&flow, &turns, &BTreeMap::new()).await;
        let texts: Vec<&str> = result.transcript.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts[0], "Hi! I'm the Switchboard demo assistant.");
        assert!(texts.contains(&"Ada"));
        assert!(texts.iter().any(|t| t.starts_with("Invoices are sent")));
        assert!(
            texts.iter().any(|t| t.contains("Where is my invoice")),
            "the offline model answers: {texts:?}"
        );
        assert_eq!(*texts.last().unwrap(), "Thanks, Ada! Have a great day.");
        assert_eq!(result.status, "ended");
        assert_eq!(result.slots["topic"], "billing");
        // The trace: a state after the start and after each turn, and the model call of
        // the third turn with its prompt, tokens and reply.
        assert_eq!(result.states.len(), 5);
        assert_eq!(result.states[4], None, "ended");
        assert_eq!(result.state, None);
        let model = result
            .calls
            .iter()
            .find(|c| c.kind == "model")
            .expect("a model call");
        assert_eq!(model.turn, 3);
        let prompt = serde_json::to_string(model.prompt.as_ref().unwrap()).unwrap();
        assert!(prompt.contains("Where is my invoice?"), "{prompt}");
        assert!(model.tokens_in.unwrap() > 0 && model.tokens_out.unwrap() > 0);
        assert!(model.latency_ms.is_some());
        assert!(
            model
                .result
                .as_ref()
                .unwrap()
                .as_str()
                .unwrap()
                .contains("Where is my invoice"),
            "{model:?}"
        );
    }

    #[tokio::test]
    async fn a_timeout_passes_only_where_asked_and_only_while_its_question_waits() {
        let source = "id: t\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Name?\", timeout: 10m, on_timeout: remind }\n    next: bye\n  remind:\n    say: \"Still there?\"\n    next: ask\n  bye:\n    end: \"Bye {{ name }}\"\n";
        let flow = dialog::compile("t.yaml", source).unwrap();
        let texts = |r: &SimulationResult| -> Vec<String> {
            r.transcript
                .iter()
                .filter(|m| m.role == "bot")
                .map(|m| m.text.clone())
                .collect()
        };
        let waiting = simulate(&flow, &[], &BTreeMap::new()).await;
        assert_eq!(texts(&waiting), ["Name?"]);
        assert_eq!(
            waiting.waiting_timeout,
            Some(WaitingTimeout {
                state: "ask".into(),
                timeout_ms: 600_000
            })
        );
        let reminded = simulate_with_timeouts(&flow, &[], &BTreeMap::new(), &[0]).await;
        assert_eq!(texts(&reminded), ["Name?", "Still there?", "Name?"]);
        assert!(reminded.transcript.iter().any(|m| m.role == "system"));
        // After the answer nothing waits: a timeout asked for there does nothing.
        let turns = vec!["Ada".to_string()];
        let answered = simulate_with_timeouts(&flow, &turns, &BTreeMap::new(), &[1]).await;
        assert_eq!(texts(&answered), ["Name?", "Bye Ada"]);
        assert_eq!(answered.waiting_timeout, None);
    }

    #[tokio::test]
    async fn adaptor_calls_are_traced_with_their_arguments_and_stubbed_answers() {
        let source = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/flows/order_status.yaml"
        ));
        let flow = dialog::compile("order_status.yaml", source).unwrap();
        let turns = vec!["AB-12345".to_string()];
        let stubs = BTreeMap::from([(
            "order_status".to_string(),
            Stub::Result(serde_json::json!({"status": "shipped", "carrier": "UPS"})),
        )]);
        let result = simulate(&flow, &turns, &stubs).await;
        assert_eq!(result.states[0].as_deref(), Some("ask_order_id"));
        let call = &result.calls[0];
        assert_eq!(
            (call.kind.as_str(), call.name.as_str()),
            ("adaptor", "order_status")
        );
        assert_eq!((call.turn, call.state.as_str()), (1, "lookup"));
        assert_eq!(call.args.as_ref().unwrap()["order_id"], "AB-12345");
        assert_eq!(call.outcome, "ok");
        assert_eq!(call.result.as_ref().unwrap()["status"], "shipped");

        let failing = simulate(&flow, &turns, &BTreeMap::new()).await;
        assert_eq!(failing.calls[0].outcome, "failed");
        assert_eq!(failing.calls[0].error.as_deref(), Some("no stub"));
    }
}
