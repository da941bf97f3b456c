//! Citations: which documents (and which of their sections) an answer came from, and
//! how a reply names them. A reply's text ends with a `Sources:` line, which every
//! channel can show (WhatsApp, Slack and Teams have no structured field for it); the
//! stored message carries them as `citations` too, which web chat shows as links.

use super::Hit;

pub use crate::transcript::Citation;

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
