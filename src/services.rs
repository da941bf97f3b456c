//! The shared services every actor and edge needs, bundled in one cheap-clone value.
//!
//! Built once at start by [`crate::app`] and handed to the actor tree, so an actor's
//! arguments say "services" instead of a long list of handles.

use std::sync::Arc;

use crate::bus::Bus;
use crate::config::Config;
use crate::flow_cache::FlowCache;
use crate::llm::LlmGateway;
use crate::store::Store;

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub store: Store,
    pub bus: Bus,
    pub flows: FlowCache,
    pub llm: LlmGateway,
}
