//! Loading flows from disk: the only part of the dialog module doing IO.
//!
//! Reading is kept separate from `compile` so everything else stays pure and
//! testable from strings. IO failures are reported as diagnostics (code
//! `io`) rather than a separate error channel, so callers print one list.
//! A directory load is non-recursive, takes `*.yaml`/`*.yml` in sorted
//! order (deterministic "first wins" for duplicate ids) and keeps going
//! after bad files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::dialog::compile::{CompileOptions, compile_with};
use crate::dialog::diagnostics::Diagnostic;
use crate::dialog::flow::CompiledFlow;

/// IO failures while loading flows.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot list directory `{path}`: {source}")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LoadError {
    fn into_diagnostic(self) -> Diagnostic {
        let path = match &self {
            LoadError::Read { path, .. } | LoadError::ReadDir { path, .. } => path.clone(),
        };
        Diagnostic::error("io", "", self.to_string()).at(&path.display().to_string(), None)
    }
}

/// Reads and compiles one flow file (adaptor names unchecked).
pub fn load_file(path: &Path) -> Result<CompiledFlow, Vec<Diagnostic>> {
    load_file_with(path, &CompileOptions::default())
}

/// [`load_file`] with tenant knowledge.
pub fn load_file_with(
    path: &Path,
    options: &CompileOptions,
) -> Result<CompiledFlow, Vec<Diagnostic>> {
    let source = fs::read_to_string(path).map_err(|source| {
        vec![
            LoadError::Read {
                path: path.to_owned(),
                source,
            }
            .into_diagnostic(),
        ]
    })?;
    compile_with(&path.display().to_string(), &source, options)
}

/// Loads every `*.yaml` / `*.yml` file directly inside `dir`, sorted by
/// name. Returns the flows that compiled and all diagnostics (errors of
/// failed files, warnings of loaded ones, duplicate ids). When two files
/// declare the same id, the first (by file name) is kept.
pub fn load_dir(dir: &Path) -> (Vec<CompiledFlow>, Vec<Diagnostic>) {
    load_dir_with(dir, &CompileOptions::default())
}

/// [`load_dir`] with tenant knowledge.
pub fn load_dir_with(dir: &Path, options: &CompileOptions) -> (Vec<CompiledFlow>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let paths = match flow_files(dir) {
        Ok(paths) => paths,
        Err(source) => {
            let err = LoadError::ReadDir {
                path: dir.to_owned(),
                source,
            };
            return (Vec::new(), vec![err.into_diagnostic()]);
        }
    };

    let mut flows: Vec<CompiledFlow> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for path in paths {
        match load_file_with(&path, options) {
            Ok(flow) => {
                if let Some(first) = seen.get(flow.id()) {
                    diagnostics.push(
                        Diagnostic::error(
                            "duplicate-flow-id",
                            "/id",
                            format!("flow id `{}` is already used by {first}", flow.id()),
                        )
                        .with_hint("flow ids must be unique; this file was skipped")
                        .at(flow.file(), flow.id_position),
                    );
                    continue;
                }
                diagnostics.extend(flow.warnings().iter().cloned());
                seen.insert(flow.id().to_owned(), flow.file().to_owned());
                flows.push(flow);
            }
            Err(diags) => diagnostics.extend(diags),
        }
    }
    (flows, diagnostics)
}

/// The `*.yaml` / `*.yml` files directly inside `dir`, sorted by name.
pub fn flow_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if is_flow_file(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn is_flow_file(path: &Path) -> bool {
    let ext_ok = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    ext_ok && path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::fixtures::DEMO;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sbdialog-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    #[test]
    fn loads_directory_sorted_and_reports_problems() {
        let dir = temp_dir("dir");
        fs::write(dir.join("b_demo.yaml"), DEMO).expect("write");
        fs::write(dir.join("a_demo.yml"), DEMO).expect("write");
        fs::write(dir.join("c_broken.yaml"), "id: broken\nstates: [\n").expect("write");
        fs::write(dir.join("notes.txt"), "ignored").expect("write");
        fs::create_dir_all(dir.join("sub.yaml")).expect("mkdir");
        let (flows, diags) = load_dir(&dir);
        assert_eq!(flows.len(), 1);
        assert!(flows[0].file().ends_with("a_demo.yml"));
        let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["duplicate-flow-id", "yaml-syntax"], "{diags:#?}");
        assert!(diags[0].file.ends_with("b_demo.yaml"));
        assert_eq!((diags[0].line, diags[0].column), (Some(3), Some(5)));
        assert!(diags[1].file.ends_with("c_broken.yaml"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn io_errors_become_diagnostics() {
        let missing = std::env::temp_dir().join("sbdialog-definitely-missing.yaml");
        let diags = load_file(&missing).expect_err("missing file");
        assert_eq!(diags[0].code, "io");
        assert!(
            diags[0].to_string().starts_with("error[io]: cannot read"),
            "{}",
            diags[0]
        );
        let (flows, diags) = load_dir(&std::env::temp_dir().join("sbdialog-missing-dir"));
        assert!(flows.is_empty());
        assert_eq!(diags[0].code, "io");
    }

    #[test]
    fn load_file_compiles() {
        let dir = temp_dir("file");
        let path = dir.join("demo.yaml");
        fs::write(&path, DEMO).expect("write");
        let flow = load_file(&path).expect("compiles");
        assert_eq!(flow.id(), "demo");
        let _ = fs::remove_dir_all(&dir);
    }
}
