//! Golden diagnostics: every `NN-name.yaml` in `tests/golden/` is checked
//! for a tenant with the adaptor `order_status`, and its diagnostics,
//! rendered one per line as `line:column: code: message` ("-" for an
//! unknown position), must equal `NN-name.expected` exactly.
//!
//! Run with `UPDATE_GOLDEN=1` to rewrite the expected files after an
//! intended change, then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use crate::dialog::fixtures::tenant_options;
use crate::dialog::{Diagnostic, check_with};

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// `line:column: code: message`.
pub fn render(d: &Diagnostic) -> String {
    let pos = |n: Option<u32>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    format!(
        "{}:{}: {}: {}",
        pos(d.line),
        pos(d.column),
        d.code,
        d.message
    )
}

fn golden_inputs() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(GOLDEN_DIR)
        .unwrap_or_else(|e| panic!("cannot list {GOLDEN_DIR}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

fn rendered(path: &Path) -> String {
    let source =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    check_with(&name.unwrap_or_default(), &source, &tenant_options())
        .iter()
        .map(|d| render(d) + "\n")
        .collect()
}

/// A unified-style line diff (`-` expected only, `+` actual only).
fn diff(expected: &str, actual: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    // Longest common subsequence table, filled from the end.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!(" {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("+{}\n", b[j]);
            j += 1;
        } else {
            out += &format!("-{}\n", a[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn golden_diagnostics() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let inputs = golden_inputs();
    assert!(
        inputs.len() >= 12,
        "expected at least 12 golden files, found {}",
        inputs.len()
    );
    let mut failures = Vec::new();
    for input in inputs {
        let actual = rendered(&input);
        let expected_path = input.with_extension("expected");
        if update {
            fs::write(&expected_path, &actual)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", expected_path.display()));
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if actual.is_empty() {
            failures.push(format!("{}: no diagnostics at all", input.display()));
        } else if actual != expected {
            failures.push(format!(
                "--- {}\n+++ actual for {}\n{}",
                expected_path.display(),
                input.display(),
                diff(&expected, &actual)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (rerun with UPDATE_GOLDEN=1 to accept):\n\n{}",
        failures.join("\n")
    );
}

#[test]
fn diff_marks_changed_lines() {
    assert_eq!(diff("a\nb\nc\n", "a\nx\nc\n"), " a\n+x\n-b\n c\n");
    assert_eq!(diff("", "a\n"), "+a\n");
}

#[test]
fn renders_missing_positions_as_dash() {
    let d = Diagnostic::error("missing-start", "", "flow has no `start` state");
    assert_eq!(render(&d), "-:-: missing-start: flow has no `start` state");
    let d = d.at("f.yaml", Some((3, 7)));
    assert_eq!(render(&d), "3:7: missing-start: flow has no `start` state");
}
