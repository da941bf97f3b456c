//! The shape of a flow for drawing it: every state with its action, its line in the
//! source and whether the start state (or an interrupt) reaches it, and every
//! transition labelled with its condition.
//!
//! The admin console draws this as a graph and jumps to a state's line when it is
//! clicked. It needs only the typed parse (`parse`), not a successful compile, so a
//! draft with an unknown target or a bad expression still has a picture: a transition
//! to a state that does not exist is kept and marked `known: false`. Reachability is
//! the same rule the compiler's `graph` check uses (start state and interrupt targets
//! are roots; `next`, branches, `on_fail` and `on_error` are edges; interrupts are
//! edges from every `collect` state), so a state drawn as unreachable is exactly one
//! the compiler warns about.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::dialog::definition::{Next, StateDef};
use crate::dialog::diagnostics::{Diagnostic, pointer};
use crate::dialog::parse;

/// One state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutlineNode {
    pub name: String,
    /// `say`, `collect`, `llm`, `call`, `set`, `handoff`, `end`, or `none` when the
    /// state has no action yet.
    pub kind: &'static str,
    /// 1-based line and column of the state's key, when known.
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub start: bool,
    pub reachable: bool,
    /// An interrupt can jump here from any `collect` state.
    pub interrupt: bool,
}

/// One transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutlineEdge {
    pub from: String,
    pub to: String,
    /// The condition: `""` for a plain `next`, `if <cel>`, `else`, `on_fail`,
    /// `on_error`.
    pub label: String,
    /// False when `to` names no state.
    pub known: bool,
}

/// One global interrupt: where it goes and what triggers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutlineInterrupt {
    pub to: String,
    pub label: String,
}

/// The whole picture, nodes in source order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outline {
    pub id: String,
    pub start: Option<String>,
    pub nodes: Vec<OutlineNode>,
    pub edges: Vec<OutlineEdge>,
    pub interrupts: Vec<OutlineInterrupt>,
}

fn kind_of(state: &StateDef) -> &'static str {
    if state.say.is_some() {
        "say"
    } else if state.collect.is_some() {
        "collect"
    } else if state.llm.is_some() {
        "llm"
    } else if state.call.is_some() {
        "call"
    } else if state.set.is_some() {
        "set"
    } else if state.handoff.is_some() {
        "handoff"
    } else if state.end.is_some() {
        "end"
    } else {
        "none"
    }
}

fn edges_of(state: &StateDef) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match &state.next {
        Some(Next::Goto(target)) => out.push((target.clone(), String::new())),
        Some(Next::Branches(branches)) => {
            for branch in branches {
                if let Some(target) = &branch.then {
                    let label = branch
                        .when
                        .as_deref()
                        .map_or_else(|| "then".to_string(), |w| format!("if {w}"));
                    out.push((target.clone(), label));
                }
                if let Some(target) = &branch.otherwise {
                    out.push((target.clone(), "else".to_string()));
                }
            }
        }
        None => {}
    }
    if let Some(target) = state.collect.as_ref().and_then(|c| c.on_fail.as_ref()) {
        out.push((target.clone(), "on_fail".into()));
    }
    if let Some(collect) = &state.collect
        && let (Some(target), Some(timeout)) = (&collect.on_timeout, &collect.timeout)
    {
        out.push((target.clone(), format!("after {timeout}")));
    }
    if let Some(target) = state.llm.as_ref().and_then(|l| l.on_error.as_ref()) {
        out.push((target.clone(), "on_error".into()));
    }
    if let Some(target) = state.llm.as_ref().and_then(|l| l.on_budget.as_ref()) {
        out.push((target.clone(), "on_budget".into()));
    }
    if let Some(target) = state.llm.as_ref().and_then(|l| l.on_no_answer.as_ref()) {
        out.push((target.clone(), "on_no_answer".into()));
    }
    if let Some(target) = state.call.as_ref().and_then(|c| c.on_error.as_ref()) {
        out.push((target.clone(), "on_error".into()));
    }
    out
}

/// The outline of `source`, or the parse diagnostics (YAML syntax, wrong shapes) when
/// it has none.
pub fn outline(source: &str) -> Result<Outline, Vec<Diagnostic>> {
    let parsed = parse::parse(source)?;
    let def = &parsed.def;
    let interrupt_targets: BTreeSet<&str> =
        def.interrupts.iter().map(|i| i.goto.as_str()).collect();

    let mut edges = Vec::new();
    let mut adjacency: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, state) in &def.states {
        let mut targets = Vec::new();
        for (to, label) in edges_of(state) {
            targets.push(to.clone());
            edges.push(OutlineEdge {
                from: name.clone(),
                known: def.states.contains_key(&to),
                to,
                label,
            });
        }
        if state.collect.is_some() {
            targets.extend(interrupt_targets.iter().map(|t| t.to_string()));
        }
        adjacency.insert(name, targets);
    }

    let mut reachable: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = def
        .start
        .iter()
        .cloned()
        .chain(interrupt_targets.iter().map(|t| t.to_string()))
        .filter(|s| def.states.contains_key(s))
        .collect();
    while let Some(state) = queue.pop_front() {
        if !reachable.insert(state.clone()) {
            continue;
        }
        for next in adjacency.get(state.as_str()).into_iter().flatten() {
            if def.states.contains_key(next) && !reachable.contains(next) {
                queue.push_back(next.clone());
            }
        }
    }

    let mut nodes: Vec<OutlineNode> = def
        .states
        .iter()
        .map(|(name, state)| {
            let position = parsed.map.locate(&pointer(&["states", name]));
            OutlineNode {
                name: name.clone(),
                kind: kind_of(state),
                line: position.map(|p| p.0),
                column: position.map(|p| p.1),
                start: def.start.as_deref() == Some(name.as_str()),
                reachable: reachable.contains(name),
                interrupt: interrupt_targets.contains(name.as_str()),
            }
        })
        .collect();
    nodes.sort_by_key(|n| (n.line.unwrap_or(u32::MAX), n.column.unwrap_or(u32::MAX)));

    let interrupts = def
        .interrupts
        .iter()
        .map(|i| OutlineInterrupt {
            to: i.goto.clone(),
            label: match (&i.phrases, &i.when) {
                (Some(phrases), _) => format!("says {}", phrases.join(" / ")),
                (None, Some(when)) => format!("when {when}"),
                (None, None) => String::new(),
            },
        })
        .collect();

    Ok(Outline {
        id: def.id.clone(),
        start: def.start.clone(),
        nodes,
        edges,
        interrupts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "id: t
start: ask
interrupts:
  - match: [agent]
    goto: human
states:
  ask:
    collect: { slot: x, prompt: \"?\", on_fail: bye }
    next:
      - if: 'x == \"a\"'
        then: bye
      - else: nowhere
  bye:
    end: ok
  lonely:
    say: hi
    next: bye
  human:
    handoff: { queue: q }
slots:
  x: { type: string }
";

    #[test]
    fn states_in_source_order_with_lines_labels_and_reachability() {
        let o = outline(FLOW).unwrap();
        let names: Vec<(&str, Option<u32>, bool)> = o
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.line, n.reachable))
            .collect();
        assert_eq!(
            names,
            [
                ("ask", Some(7), true),
                ("bye", Some(13), true),
                ("lonely", Some(15), false),
                ("human", Some(18), true),
            ]
        );
        assert!(o.nodes[0].start && o.nodes[3].interrupt);
        let edges: Vec<(&str, &str, &str, bool)> = o
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str(), e.label.as_str(), e.known))
            .collect();
        assert!(edges.contains(&("ask", "bye", "if x == \"a\"", true)));
        assert!(edges.contains(&("ask", "nowhere", "else", false)));
        assert!(edges.contains(&("ask", "bye", "on_fail", true)));
        assert!(edges.contains(&("lonely", "bye", "", true)));
        assert_eq!(o.interrupts[0].label, "says agent");
    }

    #[test]
    fn a_syntax_error_gives_diagnostics() {
        let err = outline("id: [").unwrap_err();
        assert!(!err.is_empty());
        assert!(err[0].line.is_some());
    }
}
