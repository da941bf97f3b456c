//! `compile` / `check`: YAML source → `CompiledFlow` or diagnostics.
//!
//! The `_with` variants take [`CompileOptions`] carrying what the compiler
//! cannot know from the file, i.e. the tenant's configured adaptors.
//! The pipeline is parse (syntax, duplicates, unknown fields) → flow-level
//! checks (id, slots, start) → per-state lowering and interrupts → graph checks (only when
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
use crate::dialog::lower_io::is_plain_name;
use crate::dialog::parse::parse;
use crate::dialog::slot_config::compile_slot;
use crate::dialog::source_map::SourceMap;
use crate::dialog::suggest::did_you_mean;
use crate::dialog::template::Templates;

/// What the compiler should know beyond the flow file itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// The tenant's configured adaptor names. `Some` makes a `call` of any
    /// other adaptor an `unknown-adaptor` error; `None` skips that check.
    pub adaptors: Option<BTreeSet<String>>,
    /// The tenant's knowledge base names. `Some` makes an `llm` state's `knowledge` of
    /// any other name an `unknown-knowledge` error; `None` skips that check.
    pub knowledge_bases: Option<BTreeSet<String>>,
}

/// Compiles a flow without tenant knowledge (adaptor names unchecked).
/// On failure returns every diagnostic (errors and warnings), sorted by
/// position. Warnings of a successful compile are available from
/// [`CompiledFlow::warnings`].
pub fn compile(file: &str, source: &str) -> Result<CompiledFlow, Vec<Diagnostic>> {
    compile_with(file, source, &CompileOptions::default())
}

/// [`compile`] with tenant knowledge.
pub fn compile_with(
    file: &str,
    source: &str,
    options: &CompileOptions,
) -> Result<CompiledFlow, Vec<Diagnostic>> {
    let (flow, diagnostics) = build(file, source, options);
    match flow {
        Some(flow) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(flow),
        _ => Err(diagnostics),
    }
}

/// Compiles once and returns both results: the flow when there is no error,
/// and every diagnostic (warnings included). For callers that need the
/// report and the flow without running the compiler twice.
pub fn compile_report(
    file: &str,
    source: &str,
    options: &CompileOptions,
) -> (Option<CompiledFlow>, Vec<Diagnostic>) {
    build(file, source, options)
}

/// Runs every check and returns all diagnostics, warnings included.
pub fn check(file: &str, source: &str) -> Vec<Diagnostic> {
    check_with(file, source, &CompileOptions::default())
}

/// [`check`] with tenant knowledge.
pub fn check_with(file: &str, source: &str, options: &CompileOptions) -> Vec<Diagnostic> {
    build(file, source, options).1
}

fn build(
    file: &str,
    source: &str,
    options: &CompileOptions,
) -> (Option<CompiledFlow>, Vec<Diagnostic>) {
    let parsed = match parse(source) {
        Ok(parsed) => parsed,
        Err(diags) => return (None, finish(file, &SourceMap::empty(), diags)),
    };
    let (def, map) = (parsed.def, parsed.map);
    let mut out = Vec::new();
    check_id(&def.id, &mut out);
    if source.contains('\0')
        || crate::transcript::has_nul(&serde_json::to_value(&def).unwrap_or_default())
    {
        out.push(
            Diagnostic::error(
                "nul-character",
                "",
                "the flow contains U+0000 (NUL), which its messages cannot carry",
            )
            .with_hint("remove the `\\0` (or `\\u0000`) escape"),
        );
    }

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
    let interrupts;
    let idle_ms;
    {
        let mut lowering = Lowering {
            slot_defs: &def.slots,
            slot_types: &slot_types,
            state_names: &state_names,
            adaptors: options.adaptors.as_ref(),
            knowledge_bases: options.knowledge_bases.as_ref(),
            templates: &mut templates,
            cel: &cel,
            out: &mut out,
        };
        for (name, state) in &def.states {
            if let Some(compiled) = lowering.state(name, state) {
                states.insert(name.clone(), compiled);
            }
        }
        interrupts = lowering.interrupts(&def.interrupts);
        idle_ms = def
            .idle
            .as_ref()
            .and_then(|idle| lowering.duration("/idle", idle));
    }
    if let Some(template) = &def.whatsapp_template {
        check_whatsapp_template(template, &mut out);
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
        interrupts,
        idle_ms,
        whatsapp_template: def.whatsapp_template.clone(),
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
    if !is_plain_name(id) {
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

/// Interrupt targets are roots and edges of every `collect` state.
fn graph_of(def: &FlowDef) -> Graph {
    let mut graph = Graph::default();
    let interrupt_targets: Vec<String> = def.interrupts.iter().map(|i| i.goto.clone()).collect();
    for (name, state) in &def.states {
        let mut targets = targets_of(state);
        if state.collect.is_some() {
            targets.extend(interrupt_targets.iter().cloned());
        }
        graph.kinds.insert(name.clone(), kind_of(state));
        graph.edges.insert(name.clone(), targets);
    }
    graph.roots = interrupt_targets;
    graph
}

fn kind_of(state: &StateDef) -> Kind {
    if state.end.is_some() {
        Kind::End
    } else if state.handoff.is_some() {
        Kind::Handoff
    } else if state.collect.is_some() || state.llm.is_some() || state.call.is_some() {
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
    targets.extend(state.collect.as_ref().and_then(|c| c.on_timeout.clone()));
    targets.extend(state.llm.as_ref().and_then(|l| l.on_error.clone()));
    targets.extend(state.llm.as_ref().and_then(|l| l.on_budget.clone()));
    targets.extend(state.llm.as_ref().and_then(|l| l.on_no_answer.clone()));
    targets.extend(state.call.as_ref().and_then(|c| c.on_error.clone()));
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

/// `whatsapp_template`: a name and language code as Meta accepts them.
fn check_whatsapp_template(
    template: &crate::dialog::definition::WhatsappTemplateDef,
    out: &mut Vec<Diagnostic>,
) {
    use crate::dialog::definition::WhatsappTemplateDef;
    if !WhatsappTemplateDef::name_is_valid(&template.name) {
        out.push(
            Diagnostic::error(
                "invalid-whatsapp-template",
                "/whatsapp_template/name",
                format!("`{}` is not a WhatsApp template name", template.name),
            )
            .with_hint("use 1 to 512 characters from a-z, 0-9 and `_`, as in WhatsApp Manager"),
        );
    }
    if !WhatsappTemplateDef::language_is_valid(&template.language) {
        out.push(
            Diagnostic::error(
                "invalid-whatsapp-template",
                "/whatsapp_template/language",
                format!("`{}` is not a language code", template.language),
            )
            .with_hint("use a code such as `en`, `en_US` or `pt_BR`"),
        );
    }
}
