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
    ///
    /// The cycles are the strongly connected components of the subgraph of
    /// `say`/`set` states (with more than one state, or one with an edge to
    /// itself), found once with Tarjan's algorithm: linear in states and
    /// edges, where checking each state's reach was quadratic.
    fn check_cycles(&self, out: &mut Vec<Diagnostic>) {
        let pass: Vec<&str> = self
            .kinds
            .iter()
            .filter(|(_, k)| **k == Kind::Pass)
            .map(|(s, _)| s.as_str())
            .collect();
        let index_of: BTreeMap<&str, usize> =
            pass.iter().enumerate().map(|(i, s)| (*s, i)).collect();
        let successors: Vec<Vec<usize>> = pass
            .iter()
            .map(|s| {
                self.successors(s)
                    .filter_map(|t| index_of.get(t).copied())
                    .collect()
            })
            .collect();
        let mut groups: Vec<Vec<usize>> = strongly_connected(&successors)
            .into_iter()
            .filter(|c| c.len() > 1 || successors[c[0]].contains(&c[0]))
            .map(|mut c| {
                c.sort_unstable();
                c
            })
            .collect();
        // `pass` is sorted by name, so sorting by the smallest index reports
        // the groups in name order, each at its first state.
        groups.sort_unstable_by_key(|c| c[0]);
        for group in groups {
            let names: Vec<String> = group.iter().map(|i| format!("`{}`", pass[*i])).collect();
            out.push(
                Diagnostic::error(
                    "input-free-cycle",
                    pointer(&["states", pass[group[0]]]),
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

/// Tarjan's strongly connected components, iterative (an explicit call stack,
/// so a chain of thousands of states cannot overflow the thread's stack).
/// `successors[v]` are the nodes `v` points to; every node lands in exactly
/// one component. O(nodes + edges).
fn strongly_connected(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = successors.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    // (node, position of the next successor to look at)
    let mut calls: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNVISITED {
            continue;
        }
        calls.push((root, 0));
        while let Some(&mut (v, ref mut next)) = calls.last_mut() {
            if *next == 0 {
                index[v] = next_index;
                low[v] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = successors[v].get(*next) {
                *next += 1;
                if index[w] == UNVISITED {
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
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

    #[test]
    fn strongly_connected_components() {
        // 0 → 1 → 2 → 0 is one component; 3 loops on itself; 4 is alone.
        let successors = vec![vec![1], vec![2], vec![0, 3], vec![3], vec![0]];
        let mut found: Vec<Vec<usize>> = strongly_connected(&successors)
            .into_iter()
            .map(|mut c| {
                c.sort_unstable();
                c
            })
            .collect();
        found.sort();
        assert_eq!(found, vec![vec![0, 1, 2], vec![3], vec![4]]);
        // A chain of 100,000 nodes needs no recursion.
        let chain: Vec<Vec<usize>> = (0..100_000).map(|i| vec![i + 1]).chain([vec![]]).collect();
        assert_eq!(strongly_connected(&chain).len(), 100_001);
    }
}
