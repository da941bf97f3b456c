//! Citations: which documents (and which of their sections) an answer came from, and
//! how a reply names them. A reply's text ends with a `Sources:` line, which every
//! channel can show (WhatsApp, Slack and Teams have no structured field for it).

use serde::Serialize;

use super::Hit;

/// One source of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Citation {
    pub title: String,
    /// The document's source with the section's anchor; empty without a source.
    pub url: String,
    pub kb: String,
    pub doc_id: String,
    pub anchor: String,
}

/// The distinct sections of `hits`, in rank order.
pub fn citations(hits: &[Hit]) -> Vec<Citation> {
    let mut out: Vec<Citation> = Vec::new();
    for hit in hits {
        if out
            .iter()
            .any(|c| c.kb == hit.kb && c.doc_id == hit.doc_id && c.anchor == hit.anchor)
        {
            continue;
        }
        out.push(Citation {
            title: hit.title.clone(),
            url: hit.link(),
            kb: hit.kb.clone(),
            doc_id: hit.doc_id.clone(),
            anchor: hit.anchor.clone(),
        });
    }
    out
}

/// `\n\nSources: [1] Title (url); [2] …`, or nothing without citations.
pub fn footer(citations: &[Citation]) -> String {
    if citations.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = citations
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.url.is_empty() {
                format!("[{}] {}", i + 1, c.title)
            } else {
                format!("[{}] {} ({})", i + 1, c.title, c.url)
            }
        })
        .collect();
    format!("\n\nSources: {}", parts.join("; "))
}
