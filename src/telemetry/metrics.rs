//! Prometheus metrics: one process-wide recorder behind the `metrics` facade, so any
//! module records with `metrics::counter!`/`histogram!`/`gauge!` and nothing else;
//! `GET /metrics` renders it in the Prometheus text format (`http/metrics.rs`).
//!
//! Labels are bounded: channel and provider kinds, outcomes, and configured provider
//! and model names; never a tenant, conversation or user id.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Histogram buckets in seconds (latencies from 1 ms to 30 s).
const SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets of the store's batch sizes.
const WRITES: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once per process; later calls return the same handle) and
/// starts its upkeep on the current runtime. `None` when another recorder is installed.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&SECONDS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(
                            "switchboard_store_batch_writes".into(),
                        ),
                        &WRITES,
                    )
                })
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            describe();
            let upkeep = handle.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

/// Counts a kind of actor (or anything) while it lives: `switchboard_actors_live{kind}`
/// goes up when this is made and down when it is dropped (with the actor's state).
pub struct Alive(&'static str);

impl Alive {
    pub fn new(kind: &'static str) -> Self {
        metrics::gauge!("switchboard_actors_live", "kind" => kind).increment(1.0);
        Self(kind)
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        metrics::gauge!("switchboard_actors_live", "kind" => self.0).decrement(1.0);
    }
}

/// A queue's depth changed by `delta` (`switchboard_queue_depth{queue}`).
pub fn queued(queue: &'static str, delta: f64) {
    metrics::gauge!("switchboard_queue_depth", "queue" => queue).increment(delta);
}

/// The current values in the Prometheus text format.
pub fn render() -> Option<String> {
    HANDLE
        .get()
        .and_then(|h| h.as_ref())
        .map(PrometheusHandle::render)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("switchboard_webchat_sockets", "Open web chat WebSockets.");
    describe_counter!(
        "switchboard_handoff_assignments_total",
        "Handed-off conversations assigned to a human agent (claims, automatic assignment, transfers)."
    );
    describe_counter!(
        "switchboard_sla_breaches_total",
        "Missed response targets of agent queues, by kind (first or next response); each reported once."
    );
    describe_counter!(
        "switchboard_webchat_frames_total",
        "Web chat frames received, by type."
    );
    describe_counter!(
        "switchboard_user_messages_total",
        "User messages stored, by channel and outcome."
    );
    describe_histogram!(
        "switchboard_ack_seconds",
        Unit::Seconds,
        "From a web chat message frame to its ack (stored durably)."
    );
    describe_histogram!(
        "switchboard_store_commit_seconds",
        Unit::Seconds,
        "One group commit of conversation writes."
    );
    describe_histogram!("switchboard_store_batch_writes", "Writes per group commit.");
    describe_counter!(
        "switchboard_webhooks_total",
        "Provider webhooks answered, by provider and status class."
    );
    describe_counter!(
        "switchboard_model_calls_total",
        "Model calls (attempts), by provider and model."
    );
    describe_counter!(
        "switchboard_model_calls_by_outcome_total",
        "Model calls, by outcome: ok, error, cancelled."
    );
    describe_counter!(
        "switchboard_model_tokens_total",
        "Model tokens, by provider, model and direction."
    );
    describe_counter!(
        "switchboard_model_cost_micros_total",
        "Model cost in micro-units of llm.currency."
    );
    describe_histogram!(
        "switchboard_model_first_token_seconds",
        Unit::Seconds,
        "From sending a model request to its first fragment."
    );
    describe_gauge!(
        "switchboard_breaker_open",
        "1 while a circuit breaker is open, by provider and model."
    );
    describe_counter!("switchboard_alerts_total", "Alert deliveries, by outcome.");
    describe_histogram!(
        "switchboard_first_delta_seconds",
        Unit::Seconds,
        "From starting an llm turn to its first delta on the bus."
    );
    describe_histogram!(
        "switchboard_llm_reply_seconds",
        Unit::Seconds,
        "From starting an llm turn to its whole reply."
    );
    describe_counter!(
        "switchboard_conversation_restarts_total",
        "Conversation actors restarted after a failure."
    );
    describe_counter!(
        "switchboard_conversation_quarantines_total",
        "Conversations quarantined after failing too often."
    );
    describe_counter!(
        "switchboard_outbound_total",
        "Replies sent to WhatsApp, Slack and Teams, by provider and outcome."
    );
    describe_counter!(
        "switchboard_lease_claims_total",
        "Cluster lease claims, by outcome."
    );
    describe_gauge!("switchboard_leases_held", "Cluster leases this node holds.");
    describe_counter!(
        "switchboard_leases_lost_total",
        "Cluster leases this node lost (taken over)."
    );
    describe_counter!(
        "switchboard_cluster_forwards_total",
        "Commands forwarded to the node owning a conversation."
    );
    describe_counter!(
        "switchboard_cluster_owner_gone_total",
        "Forwards that found the owning node gone; the conversation is taken over here once its lease expires."
    );
    describe_gauge!(
        "switchboard_actors_live",
        "Live actors, by kind: tenant, conversation, sender."
    );
    describe_gauge!(
        "switchboard_queue_depth",
        "Items waiting, by queue: store_writes, usage_records, backplane_events."
    );
    describe_counter!(
        "switchboard_turns_total",
        "Dialog turns stored (an event stepped through the flow and committed)."
    );
    describe_histogram!(
        "switchboard_turn_seconds",
        Unit::Seconds,
        "One dialog turn: stepping the flow and committing what it produced."
    );
    describe_counter!(
        "switchboard_webhook_duplicates_total",
        "Provider webhook retries recognised as already stored, by provider."
    );
    describe_counter!(
        "switchboard_outbound_retries_total",
        "Sends to WhatsApp, Slack and Teams that were retried, by provider."
    );
    describe_counter!(
        "switchboard_webchat_frames_sent_total",
        "Web chat frames sent to browsers."
    );
    describe_counter!(
        "switchboard_retention_deleted_events_total",
        "Messages deleted by the retention job."
    );
    describe_counter!(
        "switchboard_timers_fired_total",
        "Durable timers a conversation acted on (a collect's timeout)."
    );
}
