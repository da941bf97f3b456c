//! The demo tenant: created at start, with every flow of `demo.flows_dir` compiled and
//! published. A flow whose content is unchanged keeps its version; a changed one becomes
//! the next version and is activated (running conversations keep theirs).

use std::path::PathBuf;

use tracing::{info, warn};

use crate::config::DemoConfig;
use crate::dialog::{self, Diagnostic, Severity};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo flows in {dir} do not load:\n{}", render(.diagnostics))]
    Invalid {
        dir: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
    #[error("demo.entry_flow `{0}` is not among the demo flows")]
    MissingEntryFlow(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn seed(store: &Store, demo: &DemoConfig) -> Result<(), DemoError> {
    let (flows, diagnostics) = dialog::load_dir(&demo.flows_dir);
    let (errors, warnings): (Vec<_>, Vec<_>) = diagnostics
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    for warning in &warnings {
        warn!(file = %warning.file, code = warning.code, "{}", warning.message);
    }
    if !errors.is_empty() {
        return Err(DemoError::Invalid {
            dir: demo.flows_dir.clone(),
            diagnostics: errors,
        });
    }
    if !flows.iter().any(|flow| flow.id() == demo.entry_flow) {
        return Err(DemoError::MissingEntryFlow(demo.entry_flow.clone()));
    }
    store
        .upsert_tenant(
            &demo.tenant,
            "Demo",
            &demo.entry_flow,
            &demo.allowed_origins,
        )
        .await?;
    for flow in &flows {
        let definition = flow.definition_json().to_string();
        let (version, created) = store
            .publish_version(
                &demo.tenant,
                flow.id(),
                flow.content_hash(),
                &definition,
                flow.source(),
                "demo-loader",
            )
            .await?;
        store
            .activate_version(&demo.tenant, flow.id(), version.version)
            .await?;
        info!(tenant_id = %demo.tenant, flow = flow.id(), version = version.version,
            new_version = created, "demo flow loaded");
    }
    Ok(())
}
