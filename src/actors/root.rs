//! The root supervisor: one TenantActor per tenant, spawned on demand.
//!
//! A tenant's row is read from the store in a task, never in the root's mailbox: the
//! requests for a tenant being loaded wait together, and the tenant actor is spawned
//! when the row arrives. A tenant that fails is dropped from the map after its children
//! are stopped (so no orphaned conversation keeps writing), and the next request for it
//! spawns it again from the store.
//!
//! A running tenant's row is a cache: it is replaced when the admin API changes the
//! tenant (`Runtime::tenant_changed`), read again at most every `RECHECK` so other nodes
//! of a cluster follow within that, and a tenant that is gone (deleted) is stopped with
//! its conversations.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::{error, info};

use super::tenant::{TenantActor, TenantArgs, TenantHandle};
use crate::services::Services;
use crate::store::TenantRow;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How old a running tenant's row may get before a request reads it again (in a task;
/// the request is answered at once). Bounds how long another node misses a change.
const RECHECK: Duration = Duration::from_secs(30);

type TenantReply = RpcReplyPort<Result<Option<TenantHandle>, String>>;

pub enum RootMsg {
    Tenant {
        tenant_id: String,
        reply: TenantReply,
    },
    /// A tenant's row, read from the store.
    Loaded {
        tenant_id: String,
        row: Result<Option<TenantRow>, String>,
    },
    /// The tenants running on this node.
    Running(RpcReplyPort<Vec<TenantHandle>>),
    /// A tenant's row as it is now (`None`: gone or deleted), after a change or a recheck.
    Changed {
        tenant_id: String,
        row: Result<Option<TenantRow>, String>,
    },
}

pub struct RootActor;

pub struct RootState {
    services: Services,
    tenants: HashMap<String, TenantHandle>,
    /// Tenants whose row is being read, with the requests that wait for them.
    loading: HashMap<String, Vec<TenantReply>>,
    /// Tenants that changed while their row was being read: read it again.
    stale: HashSet<String>,
    /// When each running tenant's row was last read, for `RECHECK`.
    checked: HashMap<String, Instant>,
    /// Running tenants whose row is being read again.
    rechecking: HashSet<String>,
}

impl Actor for RootActor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(RootState {
            services,
            tenants: HashMap::new(),
            loading: HashMap::new(),
            stale: HashSet::new(),
            checked: HashMap::new(),
            rechecking: HashSet::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::Tenant { tenant_id, reply } => state.request(&myself, tenant_id, reply),
            RootMsg::Loaded { tenant_id, row } => state.loaded(&myself, tenant_id, row).await,
            RootMsg::Running(reply) => {
                let _ = reply.send(state.tenants.values().cloned().collect());
            }
            RootMsg::Changed { tenant_id, row } => state.changed(tenant_id, row),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        myself
            .stop_children_and_wait(Some("shutdown".into()), Some(CALL_TIMEOUT))
            .await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, _)
        | SupervisionEvent::ActorTerminated(cell, ..) = &event
        {
            let id = cell.get_id();
            let failed = state
                .tenants
                .iter()
                .find(|(_, h)| h.actor.get_id() == id)
                .map(|(t, _)| t.clone());
            if let Some(tenant_id) = failed {
                if let SupervisionEvent::ActorFailed(_, failure) = &event {
                    error!(tenant_id = %tenant_id, error = %failure,
                        "tenant actor failed; it restarts on its next request");
                }
                cell.stop_children_and_wait(Some("tenant stopped".into()), Some(CALL_TIMEOUT))
                    .await;
                state.tenants.remove(&tenant_id);
                state.checked.remove(&tenant_id);
            }
        }
        Ok(())
    }
}

impl RootState {
    /// Answers with the running tenant, or reads its row in a task first.
    fn request(&mut self, myself: &ActorRef<RootMsg>, tenant_id: String, reply: TenantReply) {
        if let Some(handle) = self.tenants.get(&tenant_id) {
            let _ = reply.send(Ok(Some(handle.clone())));
            let due = self
                .checked
                .get(&tenant_id)
                .is_none_or(|at| at.elapsed() >= RECHECK);
            if due && self.rechecking.insert(tenant_id.clone()) {
                self.read_row(myself, tenant_id, |tenant_id, row| RootMsg::Changed {
                    tenant_id,
                    row,
                });
            }
            return;
        }
        if let Some(waiting) = self.loading.get_mut(&tenant_id) {
            waiting.push(reply);
            return;
        }
        self.loading.insert(tenant_id.clone(), vec![reply]);
        self.read_row(myself, tenant_id, |tenant_id, row| RootMsg::Loaded {
            tenant_id,
            row,
        });
    }

    /// Reads a tenant's row in a task and sends it back as `msg`.
    fn read_row(
        &self,
        myself: &ActorRef<RootMsg>,
        tenant_id: String,
        msg: fn(String, Result<Option<TenantRow>, String>) -> RootMsg,
    ) {
        let store = self.services.store.clone();
        let myself = myself.clone();
        tokio::spawn(async move {
            let row = store.tenant(&tenant_id).await.map_err(|e| e.to_string());
            let _ = myself.cast(msg(tenant_id, row));
        });
    }

    /// A tenant changed, or its row was read again: a running tenant gets the new row, a
    /// deleted one is stopped with its conversations (in a task: the mailbox never waits)
    /// and forgotten, and a row being read right now is read once more.
    fn changed(&mut self, tenant_id: String, row: Result<Option<TenantRow>, String>) {
        self.rechecking.remove(&tenant_id);
        if self.loading.contains_key(&tenant_id) {
            self.stale.insert(tenant_id);
            return;
        }
        match row {
            // A failed read changes nothing; the next request tries again.
            Err(_) => {}
            Ok(Some(row)) => {
                if let Some(handle) = self.tenants.get_mut(&tenant_id) {
                    handle.info = Arc::new(row);
                    self.checked.insert(tenant_id, Instant::now());
                }
            }
            Ok(None) => {
                self.checked.remove(&tenant_id);
                if let Some(handle) = self.tenants.remove(&tenant_id) {
                    info!(tenant_id = %tenant_id, "tenant deleted; stopping its conversations");
                    tokio::spawn(async move {
                        handle
                            .actor
                            .stop_children_and_wait(
                                Some("tenant deleted".into()),
                                Some(CALL_TIMEOUT),
                            )
                            .await;
                        handle.actor.stop(Some("tenant deleted".into()));
                    });
                }
            }
        }
    }

    /// The row arrived: spawn the tenant and answer everyone who waited.
    async fn loaded(
        &mut self,
        myself: &ActorRef<RootMsg>,
        tenant_id: String,
        row: Result<Option<TenantRow>, String>,
    ) {
        if self.stale.remove(&tenant_id) {
            // Changed while it was read: this row may be the old one.
            self.read_row(myself, tenant_id, |tenant_id, row| RootMsg::Loaded {
                tenant_id,
                row,
            });
            return;
        }
        let waiting = self.loading.remove(&tenant_id).unwrap_or_default();
        let result = match row {
            Ok(Some(row)) => self.spawn(myself, tenant_id, row).await.map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        for reply in waiting {
            let _ = reply.send(result.clone());
        }
    }

    async fn spawn(
        &mut self,
        myself: &ActorRef<RootMsg>,
        tenant_id: String,
        row: TenantRow,
    ) -> Result<TenantHandle, String> {
        let id: Arc<str> = Arc::from(tenant_id.as_str());
        let args = TenantArgs {
            tenant_id: id.clone(),
            services: self.services.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, TenantActor, args, myself.get_cell())
            .await
            .map_err(|e| e.to_string())?;
        let handle = TenantHandle {
            actor,
            info: Arc::new(row),
            tenant_id: id,
            services: self.services.clone(),
        };
        self.checked.insert(tenant_id.clone(), Instant::now());
        self.tenants.insert(tenant_id, handle.clone());
        Ok(handle)
    }
}

/// Errors asking the actor tree for a tenant.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the actor runtime is unavailable")]
    Unavailable,
    #[error("could not load the tenant: {0}")]
    Load(String),
}

/// Cheap-clone handle to the running actor tree.
#[derive(Clone)]
pub struct Runtime {
    root: ActorRef<RootMsg>,
    services: Services,
}

impl Runtime {
    /// Spawns the root supervisor on the current (main, multi-thread) runtime.
    pub async fn start(services: Services) -> Result<Self, ractor::SpawnErr> {
        let (root, _) = Actor::spawn(None, RootActor, services.clone()).await?;
        Ok(Self { root, services })
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The running tenant, spawning it if needed; `None` when no such tenant exists.
    pub async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantHandle>, RuntimeError> {
        let call = self
            .root
            .call(
                |reply| RootMsg::Tenant {
                    tenant_id: tenant_id.to_string(),
                    reply,
                },
                Some(CALL_TIMEOUT),
            )
            .await;
        match call {
            Ok(ractor::rpc::CallResult::Success(result)) => result.map_err(RuntimeError::Load),
            _ => Err(RuntimeError::Unavailable),
        }
    }

    /// The tenant's settings changed or it was deleted or restored: read its row again,
    /// so the running tenant (origins, entry flow) follows at once, or stops when gone.
    /// The change is queued in the root's mailbox ahead of any later request, so those
    /// see the new row. Other nodes follow within `RECHECK`.
    pub async fn tenant_changed(&self, tenant_id: &str) -> Result<(), RuntimeError> {
        let row = self
            .services
            .store
            .tenant(tenant_id)
            .await
            .map_err(|e| e.to_string());
        self.root
            .cast(RootMsg::Changed {
                tenant_id: tenant_id.to_string(),
                row,
            })
            .map_err(|_| RuntimeError::Unavailable)
    }

    /// The tenants running on this node (for status views).
    pub async fn live_tenants(&self) -> Vec<TenantHandle> {
        match self.root.call(RootMsg::Running, Some(CALL_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(tenants)) => tenants,
            _ => Vec::new(),
        }
    }

    /// Stops the tree: conversations finish the message at hand, then stop. In-flight
    /// LLM replies are recorded as pending in the store and resume on the next start.
    pub async fn shutdown(&self, timeout: Duration) {
        self.root
            .stop_and_wait(Some("shutdown".into()), Some(timeout))
            .await
            .ok();
    }
}
