//! Maps JSON pointers to YAML positions and back.
//!
//! The typed definition is parsed by serde, which forgets where things were.
//! So the same source is parsed a second time into a tiny span-aware tree
//! (`serde_saphyr::Spanned` on every key and value) with duplicate keys
//! passed through. That tree answers three questions for the compiler:
//! where does pointer P start, which pointer is at line/column L:C (to give
//! serde errors a pointer), and which mapping keys are duplicated.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, Location, Spanned};

use crate::dialog::diagnostics::pointer;

type Pos = (u32, u32);

enum Node {
    Scalar(String),
    Null,
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
}

impl Node {
    fn key_text(&self) -> &str {
        match self {
            Node::Scalar(s) => s,
            _ => "",
        }
    }
}

/// What kind of node a position lookup should prefer when a key and the
/// mapping containing it share a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    /// A mapping key (unknown field, duplicate key).
    Key,
    /// The outermost value starting there (type errors, missing fields).
    Value,
}

/// A duplicated mapping key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// Pointer of the mapping holding the key.
    pub parent: String,
    pub key: String,
    /// Position of the repeated occurrence.
    pub position: Option<Pos>,
    /// Position of the first occurrence.
    pub first: Option<Pos>,
}

/// Span tree of one YAML document; empty when the document does not parse.
pub struct SourceMap {
    root: Option<Spanned<Node>>,
}

/// Deepest YAML nesting accepted. A flow needs about 6 levels; the limit
/// keeps recursive deserialisation far from stack limits (in debug builds
/// each level costs tens of KiB of stack).
pub const MAX_YAML_DEPTH: usize = 16;

/// Alias replays accepted in one document. Anchors are for reusing a block
/// in a few places; the crate's default (a million replayed events) let a
/// 487-byte document of nested aliases cost 0.27 s and 75 MB before it
/// was refused.
pub const MAX_ALIAS_REPLAYED_EVENTS: usize = 20_000;

/// serde-saphyr options shared by both parses. The budgets bound the work of
/// everything after the parser too: every later pass is linear in the nodes
/// the parser let through (a 256 KiB body holds at most about 20,000 states).
pub fn yaml_options(duplicate_keys: DuplicateKeyPolicy) -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: duplicate_keys,
        budget: serde_saphyr::budget! {
            max_depth: MAX_YAML_DEPTH,
            flow_nesting_limit: MAX_YAML_DEPTH,
            max_events: 400_000,
            max_nodes: 200_000,
            max_aliases: 2_000,
            max_anchors: 2_000,
            max_recorded_anchor_events: 50_000,
            max_recorded_anchor_bytes: 1024 * 1024,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_REPLAYED_EVENTS,
            max_replay_stack_depth: MAX_YAML_DEPTH,
        },
    }
}

/// Result of parsing the span tree: syntax errors are returned to the caller.
pub type ParseResult = Result<SourceMap, serde_saphyr::Error>;

impl SourceMap {
    /// Parses `source` into a span tree.
    pub fn parse(source: &str) -> ParseResult {
        let options = yaml_options(DuplicateKeyPolicy::PassThrough);
        let root = serde_saphyr::from_str_with_options::<Spanned<Node>>(source, options)?;
        Ok(SourceMap { root: Some(root) })
    }

    /// A map that knows no positions (used when the source did not parse).
    pub fn empty() -> Self {
        SourceMap { root: None }
    }

    /// Position for `ptr`: the key of a mapping entry whose value is a
    /// collection, the value itself for scalars and sequence items. When the
    /// pointer does not exist, the position of its deepest existing ancestor
    /// (never the whole document).
    pub fn locate(&self, ptr: &str) -> Option<Pos> {
        let mut node = self.root.as_ref()?;
        let mut best = None;
        for segment in split_pointer(ptr) {
            let (key, value) = match &node.value {
                Node::Map(entries) => {
                    match entries.iter().find(|(k, _)| k.value.key_text() == segment) {
                        Some((k, v)) => (Some(k), v),
                        None => return best,
                    }
                }
                Node::Seq(items) => {
                    match segment.parse::<usize>().ok().and_then(|i| items.get(i)) {
                        Some(v) => (None, v),
                        None => return best,
                    }
                }
                _ => return best,
            };
            let is_collection = matches!(value.value, Node::Map(_) | Node::Seq(_));
            best = match (key, is_collection) {
                (Some(k), true) => pos(&k.referenced),
                _ => pos(&value.referenced).or_else(|| key.and_then(|k| pos(&k.referenced))),
            };
            node = value;
        }
        best
    }

    /// Pointer of the node at `line:column`, or `""` when none matches.
    pub fn pointer_at(&self, line: u32, column: u32, prefer: Prefer) -> String {
        let Some(root) = &self.root else {
            return String::new();
        };
        let mut path = Vec::new();
        let mut found = None;
        search(root, (line, column), prefer, &mut path, &mut found);
        found.unwrap_or_default()
    }

    /// Every repeated key in every mapping, in document order.
    pub fn duplicate_keys(&self) -> Vec<DuplicateKey> {
        let mut out = Vec::new();
        if let Some(root) = &self.root {
            let mut path = Vec::new();
            collect_duplicates(root, &mut path, &mut out);
        }
        out
    }
}

fn pos(location: &Location) -> Option<Pos> {
    let line = u32::try_from(location.line()).ok()?;
    let column = u32::try_from(location.column()).ok()?;
    (line > 0 && column > 0).then_some((line, column))
}

/// Splits an RFC 6901 pointer into unescaped segments.
fn split_pointer(ptr: &str) -> Vec<String> {
    ptr.split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// A child of a node: path segment, key node (maps only), value node.
type Child<'a> = (String, Option<&'a Spanned<Node>>, &'a Spanned<Node>);

fn search(
    node: &Spanned<Node>,
    target: Pos,
    prefer: Prefer,
    path: &mut Vec<String>,
    found: &mut Option<String>,
) {
    if found.is_some() {
        return;
    }
    if prefer == Prefer::Value && pos(&node.referenced) == Some(target) {
        *found = Some(pointer(
            &path.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        return;
    }
    let children: Vec<Child<'_>> = match &node.value {
        Node::Map(entries) => entries
            .iter()
            .map(|(k, v)| (k.value.key_text().to_owned(), Some(k), v))
            .collect(),
        Node::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), None, v))
            .collect(),
        _ => Vec::new(),
    };
    for (segment, key, value) in children {
        let key_here = key.is_some_and(|k| pos(&k.referenced) == Some(target));
        if prefer == Prefer::Value && key_here && value_at(value, target).is_none() {
            // e.g. "missing field" in a flow map is reported at its first
            // key: the node meant is the map containing that key.
            *found = Some(pointer(
                &path.iter().map(String::as_str).collect::<Vec<_>>(),
            ));
            return;
        }
        path.push(segment);
        if prefer == Prefer::Key && key_here {
            *found = Some(pointer(
                &path.iter().map(String::as_str).collect::<Vec<_>>(),
            ));
        } else {
            search(value, target, prefer, path, found);
        }
        path.pop();
        if found.is_some() {
            return;
        }
    }
}

/// `Some(())` when `node` itself starts at `target`.
fn value_at(node: &Spanned<Node>, target: Pos) -> Option<()> {
    (pos(&node.referenced) == Some(target)).then_some(())
}

fn collect_duplicates(node: &Spanned<Node>, path: &mut Vec<String>, out: &mut Vec<DuplicateKey>) {
    match &node.value {
        Node::Map(entries) => {
            for (i, (key, _)) in entries.iter().enumerate() {
                let text = key.value.key_text();
                if let Some((first, _)) = entries[..i]
                    .iter()
                    .find(|(k, _)| k.value.key_text() == text)
                    && matches!(key.value, Node::Scalar(_))
                {
                    out.push(DuplicateKey {
                        parent: pointer(&path.iter().map(String::as_str).collect::<Vec<_>>()),
                        key: text.to_owned(),
                        position: pos(&key.referenced),
                        first: pos(&first.referenced),
                    });
                }
            }
            for (key, value) in entries {
                path.push(key.value.key_text().to_owned());
                collect_duplicates(value, path, out);
                path.pop();
            }
        }
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_duplicates(item, path, out);
                path.pop();
            }
        }
        Node::Scalar(_) | Node::Null => {}
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_owned()))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar(String::new()))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "id: x\nstates:\n  a:\n    say: hi\n    next: [ {if: x, then: b}, {else: c} ]\n  b:\n    next:\n      - if: y\n        then: a\n  a: {}\n";

    #[test]
    fn locates_pointers() {
        let map = SourceMap::parse(SRC).expect("parses");
        assert_eq!(map.locate("/id"), Some((1, 5)));
        assert_eq!(map.locate("/states/a"), Some((3, 3)));
        assert_eq!(map.locate("/states/a/say"), Some((4, 10)));
        assert_eq!(map.locate("/states/a/next/0/then"), Some((5, 27)));
        assert_eq!(map.locate("/states/b/next/0/then"), Some((9, 15)));
        // Missing leaf falls back to the deepest existing ancestor.
        assert_eq!(map.locate("/states/a/collect"), Some((3, 3)));
        assert_eq!(map.locate(""), None);
    }

    #[test]
    fn finds_pointer_at_position() {
        let map = SourceMap::parse(SRC).expect("parses");
        assert_eq!(map.pointer_at(4, 5, Prefer::Key), "/states/a/say");
        assert_eq!(map.pointer_at(4, 10, Prefer::Value), "/states/a/say");
        assert_eq!(map.pointer_at(99, 1, Prefer::Value), "");
    }

    #[test]
    fn reports_duplicates() {
        let map = SourceMap::parse(SRC).expect("parses");
        let dups = map.duplicate_keys();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].parent, "/states");
        assert_eq!(dups[0].key, "a");
        assert_eq!(dups[0].position, Some((10, 3)));
        assert_eq!(dups[0].first, Some((3, 3)));
    }

    #[test]
    fn syntax_errors_are_returned() {
        assert!(SourceMap::parse("a: [1, 2\n").is_err());
        assert!(SourceMap::empty().locate("/a").is_none());
    }
}
