//! Lowering of an `llm` state's retrieval: `knowledge` (knowledge base names),
//! `min_score`, `top_k`, `on_no_answer` and the `query` template (compiled like every
//! other template), with line:column diagnostics like every other field. The names' syntax and the thresholds are checked here; whether each
//! knowledge base exists is tenant data, checked when the compile knows the tenant's
//! knowledge bases (validate and publish through the admin API).

use crate::dialog::definition::LlmDef;
use crate::dialog::diagnostics::{Diagnostic, pointer};
use crate::dialog::flow::{DEFAULT_MIN_SCORE, DEFAULT_TOP_K, KnowledgeSpec, MAX_KNOWLEDGE_TOP_K};
use crate::dialog::lower::Lowering;
use crate::dialog::suggest::did_you_mean;

/// Most knowledge bases one state may name.
const MAX_KNOWLEDGE_BASES: usize = 8;

impl Lowering<'_> {
    /// The state's retrieval, `Some(None)` when it names no knowledge base, `None` after
    /// an error.
    pub(super) fn knowledge(&mut self, state: &str, def: &LlmDef) -> Option<Option<KnowledgeSpec>> {
        let p = |f: &str| pointer(&["states", state, "llm", f]);
        let before = self.errors();
        let Some(names) = &def.knowledge else {
            for (field, present) in [
                ("min_score", def.min_score.is_some()),
                ("top_k", def.top_k.is_some()),
                ("on_no_answer", def.on_no_answer.is_some()),
                ("query", def.query.is_some()),
            ] {
                if present {
                    self.out.push(
                        Diagnostic::error(
                            "knowledge-option-without-knowledge",
                            p(field),
                            format!("`{field}` needs `knowledge`"),
                        )
                        .with_hint("name the knowledge bases to retrieve from in `knowledge`"),
                    );
                }
            }
            return (self.errors() == before).then_some(None);
        };
        if def.extract.is_some() {
            self.out.push(
                Diagnostic::error(
                    "knowledge-with-extract",
                    p("knowledge"),
                    "`knowledge` cannot be combined with `extract`",
                )
                .with_hint("retrieval feeds a streamed reply; extraction fills slots"),
            );
        }
        if names.is_empty() || names.len() > MAX_KNOWLEDGE_BASES {
            self.out.push(Diagnostic::error(
                "invalid-knowledge",
                p("knowledge"),
                format!("`knowledge` lists 1 to {MAX_KNOWLEDGE_BASES} knowledge bases"),
            ));
        }
        for (i, name) in names.iter().enumerate() {
            let ptr = pointer(&["states", state, "llm", "knowledge", &i.to_string()]);
            if !crate::knowledge::is_name(name) {
                self.out.push(
                    Diagnostic::error(
                        "invalid-knowledge-name",
                        ptr,
                        format!("invalid knowledge base name `{name}`"),
                    )
                    .with_hint("use 1 to 80 characters from a-z, 0-9, `-`, `_` and `.`"),
                );
            } else if names[..i].contains(name) {
                self.out.push(Diagnostic::error(
                    "duplicate-knowledge",
                    ptr,
                    format!("knowledge base `{name}` is listed twice"),
                ));
            } else if let Some(known) = self.knowledge_bases
                && !known.contains(name)
            {
                let hint =
                    did_you_mean(name, known.iter().map(String::as_str)).unwrap_or_else(|| {
                        if known.is_empty() {
                            "this tenant has no knowledge bases".to_owned()
                        } else {
                            let names: Vec<&str> = known.iter().map(String::as_str).collect();
                            format!("knowledge bases: {}", names.join(", "))
                        }
                    });
                self.out.push(
                    Diagnostic::error(
                        "unknown-knowledge",
                        ptr,
                        format!("unknown knowledge base `{name}`"),
                    )
                    .with_hint(hint),
                );
            }
        }
        let min_score = def.min_score.unwrap_or(DEFAULT_MIN_SCORE);
        if !(0.0..=1.0).contains(&min_score) {
            self.out.push(Diagnostic::error(
                "invalid-min-score",
                p("min_score"),
                format!("`min_score` {min_score} is outside 0.0..=1.0"),
            ));
        }
        let top_k = def.top_k.unwrap_or(DEFAULT_TOP_K);
        if !(1..=MAX_KNOWLEDGE_TOP_K).contains(&top_k) {
            self.out.push(Diagnostic::error(
                "invalid-top-k",
                p("top_k"),
                format!("`top_k` must be between 1 and {MAX_KNOWLEDGE_TOP_K}, got {top_k}"),
            ));
        }
        if let Some(target) = &def.on_no_answer {
            self.target(&p("on_no_answer"), target, "on_no_answer");
        }
        let query = def.query.as_ref().and_then(|q| {
            if q.trim().is_empty() {
                self.out.push(Diagnostic::error(
                    "invalid-query",
                    p("query"),
                    "`query` must not be blank",
                ));
                None
            } else {
                self.template(&p("query"), q)
            }
        });
        (self.errors() == before).then(|| {
            Some(KnowledgeSpec {
                knowledge_bases: names.clone(),
                min_score: min_score as f32,
                top_k: top_k as usize,
                on_no_answer: def.on_no_answer.clone(),
                query,
            })
        })
    }
}
