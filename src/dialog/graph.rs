//! Whole-flow graph checks: reachability, termination, input-free cycles.
//!
//! `end` and `handoff` states are terminals: from every reachable state one
//! of them must be reachable. Interrupt targets are extra roots (and the
//! compiler adds them as edges from every `collect` state).
//!
//! Works on a plain adjacency list built from the definitions (targets that
//! do not exist are simply absent), uses only iterative traversals so huge
//! flows cannot overflow the stack, and is run only when the per-state
//! checks passed, so its findings are never cascades of earlier errors.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::dialog::diagnostics::{Diagnostic, pointer};

/// How a state behaves when entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `say` / `set`: runs and immediately follows `next`.
    Pass,
    /// `collect` / `llm` / `call`: waits for an event.
    Wait,
    /// `handoff`: waits for the agent, and counts as a way to finish.
    Handoff,
    /// `end`.
    End,
}

impl Kind {
    fn is_terminal(self) -> bool {
        matches!(self, Kind::End | Kind::Handoff)
    }
}

/// States, their kinds and outgoing edges (`next`, `then`, `else`,
/// `on_fail`, `on_error`, interrupt targets).
#[derive(Debug, Default)]
pub struct Graph {
    pub kinds: BTreeMap<String, Kind>,
    pub edges: BTreeMap<String, Vec<String>>,
    /// States reachable besides the start state (interrupt targets).
    pub roots: Vec<String>,
}

impl Graph {
    fn successors<'a>(&'a self, state: &str) -> impl Iterator<Item = &'a str> {
        self.edges
            .get(state)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|t| self.kinds.contains_key(*t))
    }

    /// States reachable from `from` (including them), following `keep` nodes.
    fn reach<'a>(
        &self,
        from: impl IntoIterator<Item = &'a str>,
        keep: impl Fn(&str) -> bool,
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<String> = from.into_iter().map(str::to_owned).collect();
        while let Some(state) = queue.pop_front() {
            if !seen.insert(state.clone()) {
                continue;
            }
            queue.extend(
                self.successors(&state)
                    .filter(|t| keep(t) && !seen.contains(*t))
                    .map(str::to_owned),
            );
        }
        seen
    }

    /// Runs every graph check. `start` is `None` when it is missing/unknown.
    pub fn check(&self, start: Option<&str>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let reachable = match start {
            Some(start) => {
                let roots = self
                    .roots
                    .iter()
                    .map(String::as_str)
                    .filter(|r| self.kinds.contains_key(*r));
                self.reach(std::iter::once(start).chain(roots), |_| true)
            }
            None => self.kinds.keys().cloned().collect(),
        };
        for state in self.kinds.keys().filter(|s| !reachable.contains(*s)) {
            out.push(
                Diagnostic::warning(
                    "unreachable-state",
                    pointer(&["states", state]),
                    format!("state `{state}` is never reached from the start state"),
                )
                .with_hint("remove it or point a `next` at it"),
            );
        }
        self.check_termination(&reachable, &mut out);
        self.check_cycles(&mut out);
        out
    }

    /// Every reachable state must be able to reach some `end` or `handoff`.
    fn check_termination(&self, reachable: &BTreeSet<String>, out: &mut Vec<Diagnostic>) {
        let mut reverse: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for state in self.kinds.keys() {
            for target in self.successors(state) {
                reverse.entry(target).or_default().push(state);
            }
        }
        if !self.kinds.values().any(|k| k.is_terminal()) {
            out.push(
                Diagnostic::error(
                    "no-end-reachable",
                    "/states",
                    "flow can loop forever without ending: it has no `end` or `handoff` state",
                )
                .with_hint("add a state with `end:` (or `handoff:`) and lead to it"),
            );
            return;
        }
        let mut ends: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = self
            .kinds
            .iter()
            .filter(|(_, k)| k.is_terminal())
            .map(|(s, _)| s.as_str())
            .collect();
        while let Some(state) = queue.pop_front() {
            if ends.insert(state) {
                queue.extend(reverse.get(state).into_iter().flatten().copied());
            }
        }
        for state in reachable.iter().filter(|s| !ends.contains(s.as_str())) {
            out.push(
                Diagnostic::error(
                    "no-end-reachable",
                    pointer(&["states", state]),
                    format!("flow can loop forever without ending: no `end` or `handoff` state is reachable from `{state}`"),
                )
                .with_hint("add a branch that leads to an `end` or `handoff` state"),
            );
        }
    }

    /// A cycle made only of `say`/`set` states would spin without input.
    fn check_cycles(&self, out: &mut Vec<Diagnostic>) {
        let is_pass = |s: &str| self.kinds.get(s) == Some(&Kind::Pass);
        let pass: Vec<&str> = self
            .kinds
            .iter()
            .filter(|(_, k)| **k == Kind::Pass)
            .map(|(s, _)| s.as_str())
            .collect();
        let mut reach: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for state in &pass {
            let mut from_successors = BTreeSet::new();
            for next in self.successors(state).filter(|t| is_pass(t)) {
                from_successors.extend(self.reach([next], is_pass));
            }
            reach.insert(state, from_successors);
        }
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for state in &pass {
            let on_cycle = reach.get(state).is_some_and(|r| r.contains(*state));
            if !on_cycle || reported.contains(state) {
                continue;
            }
            let group: Vec<&str> = pass
                .iter()
                .copied()
                .filter(|other| {
                    reach.get(state).is_some_and(|r| r.contains(*other))
                        && reach.get(other).is_some_and(|r| r.contains(*state))
                })
                .collect();
            reported.extend(group.iter().copied());
            let names: Vec<String> = group.iter().map(|s| format!("`{s}`")).collect();
            out.push(
                Diagnostic::error(
                    "input-free-cycle",
                    pointer(&["states", state]),
                    format!(
                        "cycle through {} has no `collect` or `llm` state: it would loop without input",
                        names.join(", ")
                    ),
                )
                .with_hint("put a `collect` or `llm` state on the cycle, or break it"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(nodes: &[(&str, Kind, &[&str])]) -> Graph {
        let mut g = Graph::default();
        for (name, kind, targets) in nodes {
            g.kinds.insert(name.to_string(), *kind);
            g.edges.insert(
                name.to_string(),
                targets.iter().map(|t| t.to_string()).collect(),
            );
        }
        g
    }

    #[test]
    fn handoff_is_terminal_and_roots_are_reachable() {
        let mut g = graph(&[
            ("a", Kind::Wait, &["a"]),
            ("h", Kind::Handoff, &[]),
            ("r", Kind::Pass, &["h"]),
        ]);
        g.edges.insert("a".into(), vec!["a".into(), "h".into()]);
        assert_eq!(
            g.check(Some("a"))
                .iter()
                .map(|d| d.code)
                .collect::<Vec<_>>(),
            ["unreachable-state"]
        );
        g.roots.push("r".into());
        assert!(g.check(Some("a")).is_empty());
        // A handoff that resumes into a dead end is still an error.
        let g = graph(&[("h", Kind::Handoff, &["w"]), ("w", Kind::Wait, &["w"])]);
        let d = g.check(Some("h"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].pointer, "/states/w");
    }

    #[test]
    fn clean_graph_has_no_findings() {
        let g = graph(&[
            ("a", Kind::Pass, &["b"]),
            ("b", Kind::Wait, &["a", "c"]),
            ("c", Kind::End, &[]),
        ]);
        assert!(g.check(Some("a")).is_empty());
    }

    #[test]
    fn finds_unreachable_endless_and_input_free() {
        let g = graph(&[
            ("a", Kind::Pass, &["b", "z"]),
            ("b", Kind::Pass, &["a"]),
            ("z", Kind::End, &[]),
            ("w", Kind::Wait, &["w"]),
        ]);
        let d = g.check(Some("a"));
        let codes: Vec<(&str, &str)> = d.iter().map(|d| (d.code, d.pointer.as_str())).collect();
        assert_eq!(
            codes,
            vec![
                ("unreachable-state", "/states/w"),
                ("input-free-cycle", "/states/a"),
            ]
        );
        assert!(d[1].message.contains("`a`, `b`"), "{}", d[1].message);

        let g = graph(&[("a", Kind::Wait, &["a"]), ("b", Kind::Wait, &["a"])]);
        let d = g.check(Some("a"));
        let found: Vec<(&str, &str)> = d.iter().map(|d| (d.code, d.pointer.as_str())).collect();
        assert_eq!(
            found,
            [
                ("unreachable-state", "/states/b"),
                ("no-end-reachable", "/states")
            ]
        );

        let g = graph(&[("a", Kind::Wait, &["a"]), ("z", Kind::End, &[])]);
        let d = g.check(Some("a"));
        assert_eq!(
            d.iter().map(|d| d.code).collect::<Vec<_>>(),
            ["unreachable-state", "no-end-reachable"]
        );
    }
}
