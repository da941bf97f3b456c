//! `compile` / `check`: YAML source → `CompiledFlow` or diagnostics.
//!
//! The pipeline is parse (syntax, duplicates, unknown fields) → flow-level
//! checks (id, slots, start) → per-state lowering → graph checks (only when
//! everything before was error-free, to avoid cascades) → positions. Checks
//! only produce pointers; the last step resolves them to line/column through
//! the source map and names the state each diagnostic belongs to.

use std::collections::{BTreeMap, BTreeSet};

use crate::dialog::canonical::{canonicalize, sha256_hex, to_canonical_string};
use crate::dialog::definition::{FlowDef, Next, StateDef};
use crate::dialog::diagnostics::{self, Diagnostic, pointer};
use crate::dialog::expr::new_env;
use crate::dialog::flow::CompiledFlow;
use crate::dialog::graph::{Graph, Kind};
use crate::dialog::lower::Lowering;
use crate::dialog::parse::parse;
use crate::dialog::slot_config::compile_slot;
use crate::dialog::source_map::SourceMap;
use crate::dialog::suggest::did_you_mean;
use crate::dialog::template::Templates;

/// Compiles a flow. On failure returns every diagnostic (errors and
/// warnings), sorted by position. Warnings of a successful compile are
/// available from [`CompiledFlow::warnings`].
pub fn compile(file: &str, source: &str) -> Result<CompiledFlow, Vec<Diagnostic>> {
    let (flow, diagnostics) = build(file, source);
    match flow {
        Some(flow) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(flow),
        _ => Err(diagnostics),
    }
}

/// Runs every check and returns all diagnostics, warnings included.
pub fn check(file: &str, source: &str) -> Vec<Diagnostic> {
    build(file, source).1
}

fn build(file: &str, source: &str) -> (Option<CompiledFlow>, Vec<Diagnostic>) {
    let parsed = match parse(source) {
        Ok(parsed) => parsed,
        Err(diags) => return (None, finish(file, &SourceMap::empty(), diags)),
    };
    let (def, map) = (parsed.def, parsed.map);
    let mut out = Vec::new();
    check_id(&def.id, &mut out);

    let mut slot_types = BTreeMap::new();
    for (name, slot) in &def.slots {
        if let Some(t) = compile_slot(name, slot, &mut out) {
            slot_types.insert(name.clone(), t);
        }
    }
    let state_names: BTreeSet<String> = def.states.keys().cloned().collect();
    let start = check_start(&def, &state_names, &mut out);

    let cel = new_env();
    let mut templates = Templates::new();
    let mut states = BTreeMap::new();
    {
        let mut lowering = Lowering {
            slot_defs: &def.slots,
            slot_types: &slot_types,
            state_names: &state_names,
            templates: &mut templates,
            cel: &cel,
            out: &mut out,
        };
        for (name, state) in &def.states {
            if let Some(compiled) = lowering.state(name, state) {
                states.insert(name.clone(), compiled);
            }
        }
    }
    if !out.iter().any(Diagnostic::is_error) {
        out.extend(graph_of(&def).check(start.as_deref()));
    }
    let diagnostics = finish(file, &map, out);
    let (Some(start), false) = (start, diagnostics.iter().any(Diagnostic::is_error)) else {
        return (None, diagnostics);
    };

    let definition_json = canonicalize(&serde_json::to_value(&def).unwrap_or_default());
    let content_hash = sha256_hex(&to_canonical_string(&definition_json));
    let flow = CompiledFlow {
        id: def.id.clone(),
        description: def.description.clone(),
        start,
        slots: slot_types,
        states,
        templates,
        cel,
        definition_json,
        content_hash,
        source: source.to_owned(),
        warnings: diagnostics.clone(),
        file: file.to_owned(),
        id_position: map.locate("/id"),
    };
    (Some(flow), diagnostics)
}

fn check_id(id: &str, out: &mut Vec<Diagnostic>) {
    let valid = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        out.push(
            Diagnostic::error("invalid-flow-id", "/id", format!("invalid flow id `{id}`"))
                .with_hint("use 1 to 64 characters from a-z, 0-9, `_` and `-`"),
        );
    }
}

/// Returns the start state when it is present and exists.
fn check_start(
    def: &FlowDef,
    state_names: &BTreeSet<String>,
    out: &mut Vec<Diagnostic>,
) -> Option<String> {
    match &def.start {
        None => {
            let hint = match state_names.iter().next() {
                Some(first) => format!("add `start: {first}` (or whichever state comes first)"),
                None => "add `start: <state>` and at least one state".to_owned(),
            };
            out.push(
                Diagnostic::error("missing-start", "", "flow has no `start` state").with_hint(hint),
            );
            None
        }
        Some(start) if state_names.contains(start) => Some(start.clone()),
        Some(start) => {
            let hint = did_you_mean(start, state_names.iter().map(String::as_str));
            out.push(
                Diagnostic::error(
                    "unknown-start",
                    "/start",
                    format!("`start` points to unknown state `{start}`"),
                )
                .with_opt_hint(hint),
            );
            None
        }
    }
}

fn graph_of(def: &FlowDef) -> Graph {
    let mut graph = Graph::default();
    for (name, state) in &def.states {
        graph.kinds.insert(name.clone(), kind_of(state));
        graph.edges.insert(name.clone(), targets_of(state));
    }
    graph
}

fn kind_of(state: &StateDef) -> Kind {
    if state.end.is_some() {
        Kind::End
    } else if state.collect.is_some() || state.llm.is_some() {
        Kind::Wait
    } else {
        Kind::Pass
    }
}

fn targets_of(state: &StateDef) -> Vec<String> {
    let mut targets = Vec::new();
    match &state.next {
        Some(Next::Goto(t)) => targets.push(t.clone()),
        Some(Next::Branches(branches)) => {
            for b in branches {
                targets.extend(b.then.iter().chain(&b.otherwise).cloned());
            }
        }
        None => {}
    }
    targets.extend(state.collect.as_ref().and_then(|c| c.on_fail.clone()));
    targets.extend(state.llm.as_ref().and_then(|l| l.on_error.clone()));
    targets
}

/// Fills file, position and state; sorts by position.
fn finish(file: &str, map: &SourceMap, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = diags
        .into_iter()
        .map(|mut d| {
            let position = match (d.line, d.column) {
                (Some(l), Some(c)) => Some((l, c)),
                _ => map.locate(&d.pointer),
            };
            if d.state.is_none() {
                d.state = state_of(&d.pointer);
            }
            d.at(file, position)
        })
        .collect();
    diagnostics::sort(&mut out);
    out
}

/// `/states/<name>/…` → `<name>` (unescaped).
fn state_of(ptr: &str) -> Option<String> {
    let rest = ptr.strip_prefix(&pointer(&["states"]))?.strip_prefix('/')?;
    let segment = rest.split('/').next()?;
    Some(segment.replace("~1", "/").replace("~0", "~"))
}
