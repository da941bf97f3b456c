//! The demo tenant: created at start, with every flow of `demo.flows_dir` compiled and
//! published. A flow whose content is unchanged keeps its version; a changed one becomes
//! the next version and is activated (running conversations keep theirs).

use std::path::{Path, PathBuf};

use tracing::info;

use crate::config::DemoConfig;
use crate::dialog::{self, Diagnostic};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot read the demo flows in {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo flows do not compile:\n{}", render(.0))]
    Invalid(Vec<Diagnostic>),
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

/// The YAML files of a directory, sorted by name.
pub fn flow_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    Ok(files)
}

pub async fn seed(store: &Store, demo: &DemoConfig) -> Result<(), DemoError> {
    let io = |source| DemoError::Io {
        dir: demo.flows_dir.clone(),
        source,
    };
    let mut compiled = Vec::new();
    let mut errors = Vec::new();
    for path in flow_files(&demo.flows_dir).map_err(io)? {
        let source = std::fs::read_to_string(&path).map_err(io)?;
        match dialog::compile(&path.display().to_string(), &source) {
            Ok(flow) => compiled.push((flow, source)),
            Err(diagnostics) => errors.extend(diagnostics),
        }
    }
    if !errors.is_empty() {
        return Err(DemoError::Invalid(errors));
    }
    if !compiled
        .iter()
        .any(|(flow, _)| flow.id() == demo.entry_flow)
    {
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
    for (flow, source) in &compiled {
        let definition = flow.definition_json().to_string();
        let (version, created) = store
            .publish_and_activate(
                &demo.tenant,
                flow.id(),
                flow.content_hash(),
                &definition,
                source,
                "demo-loader",
            )
            .await?;
        info!(tenant_id = %demo.tenant, flow = flow.id(), version, new_version = created,
            "demo flow loaded");
    }
    Ok(())
}
