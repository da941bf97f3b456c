//! Making a flow's adaptor call: load the tenant's adaptor, decrypt its secret, pick the
//! client allowed by the tenant's network policy, and call it. Runs in a task spawned by
//! the conversation actor; the result goes back to the actor as a message.

use std::sync::Arc;

use crate::adaptors::{AdaptorError, AdaptorSecret, AdaptorSpec};
use crate::dialog::AdaptorCall;
use crate::services::Services;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the tenant has no adaptor `{0}`")]
    UnknownAdaptor(String),
    #[error("the stored adaptor `{0}` is not a valid spec")]
    BadSpec(String),
    #[error("the secret of adaptor `{0}` cannot be decrypted")]
    Secret(String),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Adaptor(#[from] AdaptorError),
}

pub(super) async fn call(
    services: &Services,
    tenant_id: &Arc<str>,
    call: &AdaptorCall,
) -> Result<serde_json::Value, CallError> {
    let store = &services.store;
    let row = store
        .adaptor(tenant_id, &call.adaptor)
        .await?
        .ok_or_else(|| CallError::UnknownAdaptor(call.adaptor.clone()))?;
    let spec: AdaptorSpec =
        serde_json::from_str(&row.spec).map_err(|_| CallError::BadSpec(call.adaptor.clone()))?;
    let secret = match &row.secret_encrypted {
        Some(sealed) => Some(AdaptorSecret::new(
            services
                .secrets
                .open(sealed)
                .map_err(|_| CallError::Secret(call.adaptor.clone()))?,
        )),
        None => None,
    };
    let allow_private = store
        .tenant(tenant_id)
        .await?
        .is_some_and(|t| t.allows_private_adaptors());
    let args: serde_json::Map<String, serde_json::Value> = call
        .args
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Ok(services
        .adaptors
        .for_tenant(allow_private)
        .call(&spec, secret.as_ref(), &args, call.timeout_ms)
        .await?)
}
