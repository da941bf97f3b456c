//! Builds and runs one Switchboard node: listener, store, actor tree, HTTP server.
//!
//! [`start`] is what `switchboard serve` runs and what every integration test runs, on
//! `127.0.0.1:0`: there is one way to build the app. [`Node::shutdown`] drains: sockets
//! get a close frame, the HTTP server stops accepting and finishes requests, actors stop
//! after the message at hand, and the pools close.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, web};
use rand::RngCore;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use tracing_actix_web::TracingLogger;

use crate::actors::Runtime;
use crate::bus::Bus;
use crate::channels::delivery::ChannelHub;
use crate::channels::webchat::WebchatContext;
use crate::channels::webchat::visitor_token::VisitorTokens;
use crate::cluster::lease::{LeaseKey, LostLease};
use crate::cluster::{Cluster, ClusterNode};
use crate::config::Config;
use crate::demo::{self, DemoError};
use crate::flow_cache::FlowCache;
use crate::governance::{Alerts, Budgets, Governor, ModelLimits, TenantProviders};
use crate::http::admin::AdminContext;
use crate::http::channels::ChannelContext;
use crate::http::openapi::OpenApiJson;
use crate::llm::{LlmError, LlmGateway};
use crate::metering::UsageRecorder;
use crate::secret_box::SecretBox;
use crate::services::Services;
use crate::services::{AdaptorClients, OutboxRelay};
use crate::store::{Store, StoreError};
use dashmap::DashMap;
use sha2::{Digest, Sha256};
use utoipa_actix_web::AppExt;

/// Events buffered per conversation topic for slow watchers (see [`crate::bus`]). Small
/// on purpose: the ring is allocated per watched conversation (32 B a slot), and a
/// watcher that falls further behind re-reads the store from its last seq, losing
/// nothing but the deltas of a reply in progress (whose stored message follows).
const BUS_CAPACITY: usize = 64;

/// Shared state of the HTTP handlers.
pub struct AppState {
    pub runtime: Runtime,
    /// Cancelled when the node starts shutting down.
    pub shutdown: CancellationToken,
    /// Cancelled when the node stops being ready: at the start of the pre-drain delay,
    /// while it still serves everything (`/readyz` answers 503 from then on).
    pub draining: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error("LLM gateway: {0}")]
    Llm(#[from] LlmError),
    #[error("security.secrets_key: {0}")]
    Secrets(String),
    #[error("could not build the adaptor HTTP client: {0}")]
    Adaptors(String),
    #[error("could not build the webhook HTTP client: {0}")]
    HttpClient(String),
    #[error("could not start the actor tree: {0}")]
    Actors(String),
    #[error("cluster mode: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error(transparent)]
    Telemetry(#[from] crate::telemetry::otlp::OtlpError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running node.
pub struct Node {
    addr: SocketAddr,
    server: actix_server::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    runtime: Runtime,
    hub: ChannelHub,
    shutdown: CancellationToken,
    draining: CancellationToken,
    /// Stops the background jobs (alert dispatcher, retention), after the drain.
    alerts_stop: CancellationToken,
    /// Trace export, when configured; flushed last.
    otlp: Option<crate::telemetry::otlp::Exporter>,
}

/// Connects and migrates the store, seeds the demo, starts the actor tree and the HTTP
/// server. Must run on the main multi-thread runtime (actors live where they spawn).
pub async fn start(config: Config) -> Result<Node, StartError> {
    let config = Arc::new(config);
    // The listener first: a busy port is the commonest start failure, and it must be told
    // before the database is created or migrated (connections that arrive meanwhile wait
    // in the backlog until the server runs).
    let bind = config.server.bind;
    let listener =
        TcpListener::bind(bind).map_err(|source| StartError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr: bind, source })?;
    let otlp = crate::telemetry::otlp::install(&config.telemetry.otlp)?;
    let store = Store::connect(&config.database).await?;
    store.migrate().await?;
    if config.demo.enabled {
        demo::seed(&store, &config.demo).await?;
    }
    let visitor_key = if config.security.visitor_token_secret.is_empty() {
        store
            .node_secret("visitor_token_key", || {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                key.iter().map(|b| format!("{b:02x}")).collect()
            })
            .await?
    } else {
        config.security.visitor_token_secret.clone()
    };
    let secrets_key = if config.security.secrets_key.is_empty() {
        store
            .node_secret("secrets_key", SecretBox::generate_key_hex)
            .await?
    } else {
        config.security.secrets_key.clone()
    };
    let secrets = Arc::new(
        SecretBox::from_hex(&secrets_key).map_err(|e| StartError::Secrets(e.to_string()))?,
    );
    let cluster = if config.cluster.redis_url.is_empty() {
        Cluster::single(&config.cluster)
    } else {
        Cluster::connect(&config.cluster, store.clone()).await?
    };
    crate::telemetry::metrics::install();
    let usage = UsageRecorder::start(store.clone());
    let alerts = Alerts::new(store.clone(), secrets.clone());
    let alerts_stop = CancellationToken::new();
    alerts.start(alerts_stop.clone());
    crate::retention::start(store.clone(), config.retention.clone(), alerts_stop.clone());
    crate::memory::start(alerts_stop.clone());
    let budgets = Budgets::new(store.clone(), alerts.clone(), cluster.clone());
    let limits = ModelLimits::new(store.clone(), cluster.clone());
    let governor = Governor {
        limits: limits.clone(),
        budgets: budgets.clone(),
    };
    let tenant_models = TenantProviders::new(store.clone(), secrets.clone(), config.llm.clone());
    let llm = LlmGateway::from_config(&config.llm)?
        .with_usage_sink(Arc::new(usage.clone()))
        .with_spend_guard(Arc::new(governor))
        .with_tenant_models(Arc::new(tenant_models.clone()));
    llm.add_breaker_listener(Arc::new(alerts.clone()));
    if let Some(node) = cluster.node() {
        crate::governance::shared_breakers::share(node, &llm);
    }
    if llm.is_offline() {
        info!("no llm.base_url configured: using the built-in offline model");
    }
    let bus = match cluster.node() {
        Some(node) => Bus::with_backplane(BUS_CAPACITY, node.backplane()),
        None => Bus::new(BUS_CAPACITY),
    };
    let flows = FlowCache::new(store.clone());
    crate::analytics::rollup::start(
        store.clone(),
        flows.clone(),
        config.analytics.clone(),
        alerts_stop.clone(),
    );
    if let Some(node) = cluster.node() {
        node.attach(bus.clone(), flows.clone());
    }
    let knowledge = crate::knowledge::Knowledge::new(store.clone(), llm.clone());
    let services = Services {
        config: config.clone(),
        knowledge,
        flows,
        store,
        bus,
        cluster: cluster.clone(),
        llm,
        usage,
        budgets,
        limits,
        tenant_models,
        alerts,
        adaptors: AdaptorClients::new().map_err(|e| StartError::Adaptors(e.to_string()))?,
        secrets: secrets.clone(),
        outbox: OutboxRelay::default(),
    };
    let runtime = Runtime::start(services)
        .await
        .map_err(|e| StartError::Actors(e.to_string()))?;
    let hub = ChannelHub::start(runtime.clone())
        .await
        .map_err(|e| StartError::Actors(e.to_string()))?;
    runtime.services().outbox.set(Arc::new(hub.clone()));
    // After the outbox relay is in place: a resumed provider turn delivers its reply.
    let takeover = runtime.services().cluster.ownership().takeover_interval();
    crate::actors::resume::start(runtime.clone(), takeover);
    crate::actors::timers::start(
        runtime.clone(),
        Duration::from_millis(config.conversation.timer_sweep_ms),
        alerts_stop.clone(),
    );
    crate::agents::assigner::start(runtime.clone(), config.agents.clone(), alerts_stop.clone());
    let shutdown = CancellationToken::new();
    let channels = web::Data::new(ChannelContext {
        runtime: runtime.clone(),
        hub: hub.clone(),
        teams_auth: DashMap::new(),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| StartError::HttpClient(e.to_string()))?,
    });
    let webhook_body = web::PayloadConfig::new(config.channels.max_body_bytes);
    let visitor_tokens = Arc::new(VisitorTokens::new(visitor_key.into_bytes()));
    let webchat = web::Data::new(WebchatContext {
        runtime: runtime.clone(),
        tokens: visitor_tokens.clone(),
        secrets: secrets.clone(),
        config: Arc::new(config.webchat.clone()),
        shutdown: shutdown.clone(),
    });
    let draining = CancellationToken::new();
    let state = web::Data::new(AppState {
        runtime: runtime.clone(),
        shutdown: shutdown.clone(),
        draining: draining.clone(),
    });
    if config.admin.bootstrap_key.is_empty() {
        info!("no admin.bootstrap_key: create tenant keys with `switchboard keys create`");
    }
    let admin = web::Data::new(AdminContext {
        runtime: runtime.clone(),
        config: config.clone(),
        bootstrap_key_digest: (!config.admin.bootstrap_key.is_empty())
            .then(|| Sha256::digest(config.admin.bootstrap_key.as_bytes()).into()),
        secrets,
        hub: hub.clone(),
        tokens: visitor_tokens,
    });
    let openapi = web::Data::new(OpenApiJson(
        serde_json::to_string(&crate::http::admin::openapi_document()).unwrap_or_default(),
    ));
    let max_admin_body = config.admin.max_body_bytes;
    let cors_origins = config.admin.cors_origins.clone();

    let settings = crate::http::server::Settings {
        workers: config.server.workers,
        shutdown_timeout: Duration::from_secs(config.server.shutdown_timeout_secs),
    };
    let webchat_upgrades = webchat.get_ref().clone();
    let body_timeout = Duration::from_secs(config.server.body_timeout_secs);
    let server = crate::http::server::serve(listener, settings, webchat_upgrades, move || {
        App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .app_data(webchat.clone())
            .app_data(admin.clone())
            .app_data(openapi.clone())
            .app_data(channels.clone())
            .app_data(webhook_body.clone())
            .service(crate::http::admin::scope(
                max_admin_body,
                cors_origins.clone(),
            ))
            .service(crate::http::agent::scope(max_admin_body))
            .into_app()
            .configure(crate::http::routes)
            .wrap(actix_web::middleware::from_fn(crate::http::nul::uri))
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                crate::http::body_timeout::bound(body_timeout, req, next)
            }))
            .wrap(TracingLogger::<crate::http::request_log::RequestSpans>::new())
    })
    .map_err(|source| StartError::Bind { addr: bind, source })?;
    let handle = server.handle();
    let task = tokio::spawn(server);
    if let Some(node) = cluster.node() {
        join_cluster(node, &runtime, &hub, addr);
    }
    info!(%addr, node_id = %cluster.node_id(), "switchboard listening");
    Ok(Node {
        addr,
        server: handle,
        task,
        runtime,
        hub,
        shutdown,
        draining,
        alerts_stop,
        otlp,
    })
}

/// Plugs the actor tree into the cluster: forwarded commands, lost leases, heartbeats.
fn join_cluster(node: &Arc<ClusterNode>, runtime: &Runtime, hub: &ChannelHub, addr: SocketAddr) {
    node.set_addr(addr.to_string());
    node.set_handler(Arc::new(runtime.clone()));
    let (lost_tx, mut lost_rx) = tokio::sync::mpsc::unbounded_channel::<LostLease>();
    node.start_background(lost_tx);
    let runtime = runtime.clone();
    let hub = hub.clone();
    tokio::spawn(async move {
        while let Some(LostLease { lease, fence }) = lost_rx.recv().await {
            match lease {
                LeaseKey::Sender { account_id, .. } => hub.lease_lost(&account_id, fence),
                LeaseKey::Conversation {
                    tenant_id,
                    conversation_id,
                } => {
                    if let Ok(Some(tenant)) = runtime.tenant(&tenant_id).await {
                        tenant.lease_lost(&conversation_id, fence);
                    }
                }
            }
        }
    });
}

impl Node {
    /// The address the HTTP server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Drains and stops the node: first `server.predrain_secs` of serving on while
    /// `/readyz` answers 503 (load balancers take the node out of rotation), then the drain.
    pub async fn shutdown(self) {
        self.draining.cancel();
        let predrain = self.runtime.services().config.server.predrain_secs;
        if predrain > 0 {
            info!(
                predrain_secs = predrain,
                "not ready: serving on until the pre-drain delay ends"
            );
            tokio::time::sleep(Duration::from_secs(predrain)).await;
        }
        info!("shutting down");
        self.shutdown.cancel();
        self.server.stop(true).await;
        self.hub.stop().await;
        let timeout =
            Duration::from_secs(self.runtime.services().config.server.shutdown_timeout_secs);
        self.runtime.shutdown(timeout).await;
        if let Some(node) = self.runtime.services().cluster.node() {
            node.leave().await;
        }
        // Calls cut short by the drain are metered before the store closes.
        self.runtime.services().usage.close().await;
        self.alerts_stop.cancel();
        self.runtime.services().store.close().await;
        if let Ok(Err(e)) = self.task.await {
            warn!(error = %e, "HTTP server ended with an error");
        }
        if let Some(otlp) = self.otlp {
            otlp.shutdown().await;
        }
        info!("stopped");
    }
}
