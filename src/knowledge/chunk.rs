//! Chunking: a document cut along its structure. Markdown (and HTML, converted by
//! `html.rs`) is split into sections at its headings; plain text is one section. A
//! section's paragraphs are packed into chunks of at most [`MAX_CHUNK_CHARS`]; the next
//! chunk of the same section starts with the end of the previous one (up to
//! [`OVERLAP_CHARS`]), so an answer that straddles a cut is whole in one of them. A
//! paragraph longer than a chunk is cut at sentence or word boundaries. Every chunk
//! keeps its section's heading as its title and a GitHub-style anchor (`#returns-policy`,
//! `-1`, `-2` for repeats), so a citation can link to the place it came from. A PDF's
//! text (`pdf.rs`) comes as pages separated by form feeds: each page is a section
//! titled "Title, page N" with the anchor `page=N`, which PDF viewers open at.

use std::collections::HashMap;

/// Most characters of a chunk's body.
pub const MAX_CHUNK_CHARS: usize = 1200;
/// Most characters carried over from the previous chunk of the same section.
pub const OVERLAP_CHARS: usize = 200;

/// A document format the knowledge base reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Text,
    Html,
    /// Text extracted from a PDF, pages separated by form feeds (`\u{c}`).
    Pdf,
}

impl Format {
    /// `markdown` (or `md`), `text` (or `txt`), `html`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "markdown" | "md" => Some(Format::Markdown),
            "text" | "txt" | "plain" => Some(Format::Text),
            "html" | "htm" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
}

/// One piece of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The section's heading, or the document's title before the first heading.
    pub title: String,
    /// The section's anchor (without `#`); empty before the first heading.
    pub anchor: String,
    pub body: String,
}

/// Cuts `content` of `format` into chunks; `doc_title` titles what precedes the first
/// heading. Sections without text give no chunk.
pub fn chunk(content: &str, format: Format, doc_title: &str) -> Vec<Chunk> {
    let text = match format {
        Format::Html => super::html::to_text(content),
        Format::Markdown | Format::Text | Format::Pdf => content.replace("\r\n", "\n"),
    };
    let sections = match format {
        Format::Text => vec![Section {
            heading: None,
            paragraphs: paragraphs(&text),
        }],
        Format::Markdown | Format::Html => sections(&text),
        Format::Pdf => return pages(&text, doc_title),
    };
    let mut anchors = Anchors::default();
    let mut out = Vec::new();
    for section in sections {
        let (title, anchor) = match &section.heading {
            Some(heading) => (heading.clone(), anchors.next(heading)),
            None => (doc_title.to_owned(), String::new()),
        };
        for body in pack(&section.paragraphs) {
            out.push(Chunk {
                title: title.clone(),
                anchor: anchor.clone(),
                body,
            });
        }
    }
    out
}

/// A PDF's pages as sections: "Title, page N", anchor `page=N` (blank pages skipped).
fn pages(text: &str, doc_title: &str) -> Vec<Chunk> {
    let mut out = Vec::new();
    for (i, page) in text.split('\u{c}').enumerate() {
        let number = i + 1;
        for body in pack(&paragraphs(page)) {
            out.push(Chunk {
                title: format!("{doc_title}, page {number}"),
                anchor: format!("page={number}"),
                body,
            });
        }
    }
    out
}

struct Section {
    heading: Option<String>,
    paragraphs: Vec<String>,
}

/// Markdown sections at ATX headings (`#` … `######`), code fences respected.
fn sections(text: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut heading = None;
    let mut body = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        if !in_fence && let Some(title) = heading_of(trimmed) {
            out.push(Section {
                heading: heading.take(),
                paragraphs: paragraphs(&body),
            });
            body.clear();
            heading = Some(title);
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    out.push(Section {
        heading,
        paragraphs: paragraphs(&body),
    });
    out.retain(|s| !s.paragraphs.is_empty() || s.heading.is_some());
    // A heading with no text of its own still titles nothing: drop it.
    out.retain(|s| !s.paragraphs.is_empty());
    out
}

/// The text of an ATX heading line, if it is one.
fn heading_of(line: &str) -> Option<String> {
    let level = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Paragraphs: runs of non-blank lines, whitespace-collapsed within each line.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .flat_map(|block| block.split("\n \n"))
        .map(|p| {
            p.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Packs paragraphs into bodies of at most `MAX_CHUNK_CHARS`, each after the first
/// starting with the tail of the one before.
fn pack(paragraphs: &[String]) -> Vec<String> {
    let pieces: Vec<String> = paragraphs
        .iter()
        .flat_map(|p| split_long(p, MAX_CHUNK_CHARS - OVERLAP_CHARS - 2))
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        let len = |s: &str| s.chars().count();
        if !current.is_empty() && len(&current) + 2 + len(&piece) > MAX_CHUNK_CHARS {
            let overlap = tail(&current, OVERLAP_CHARS);
            out.push(std::mem::take(&mut current));
            current = overlap;
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(&piece);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `text` cut into pieces of at most `max` characters, at a sentence end when there is
/// one in the second half of the window, else at a space, else anywhere.
fn split_long(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let window_end = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..window_end];
        let half = window.len() / 2;
        let cut = window
            .rmatch_indices(['.', '!', '?'])
            .map(|(i, _)| i + 1)
            .find(|&i| i > half)
            .or_else(|| window.rfind(' ').filter(|&i| i > 0))
            .unwrap_or(window_end);
        out.push(rest[..cut].trim().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// The last `max` characters of `text`, starting at a word.
fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let start = text.char_indices().nth(count - max).map_or(0, |(i, _)| i);
    let rest = &text[start..];
    match rest.find(char::is_whitespace) {
        Some(space) => rest[space..].trim_start().to_owned(),
        None => rest.to_owned(),
    }
}

/// GitHub-style heading anchors, with `-1`, `-2` for repeats.
#[derive(Default)]
struct Anchors {
    seen: HashMap<String, usize>,
}

impl Anchors {
    fn next(&mut self, heading: &str) -> String {
        let slug = slug(heading);
        let count = self.seen.entry(slug.clone()).or_insert(0);
        let anchor = if *count == 0 {
            slug
        } else {
            format!("{slug}-{count}")
        };
        *count += 1;
        anchor
    }
}

/// Lower case, spaces to `-`, everything but letters, digits, `-` and `_` dropped.
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_pages_are_sections_opened_by_their_page_anchor() {
        let text = "Returns within 30 days.\n\nRefunds to the card.\u{c}\u{c}Warranty: two years.";
        let chunks = chunk(text, Format::Pdf, "Policy");
        let got: Vec<(&str, &str)> = chunks
            .iter()
            .map(|c| (c.title.as_str(), c.anchor.as_str()))
            .collect();
        assert_eq!(
            got,
            [("Policy, page 1", "page=1"), ("Policy, page 3", "page=3")]
        );
        assert_eq!(
            chunks[0].body,
            "Returns within 30 days.\n\nRefunds to the card."
        );
        assert_eq!(Format::parse("pdf"), Some(Format::Pdf));
    }

    #[test]
    fn markdown_is_cut_at_headings_with_anchors() {
        let doc = "Intro line.\n\n# Returns policy\n\nSend it back within 30 days.\n\n## Fees\n\nNo fees.\n\n```\n# not a heading\n```\n\n## Fees\n\nStill none.\n";
        let chunks = chunk(doc, Format::Markdown, "Help");
        let heads: Vec<(&str, &str)> = chunks
            .iter()
            .map(|c| (c.title.as_str(), c.anchor.as_str()))
            .collect();
        assert_eq!(
            heads,
            [
                ("Help", ""),
                ("Returns policy", "returns-policy"),
                ("Fees", "fees"),
                ("Fees", "fees-1")
            ]
        );
        assert!(chunks[2].body.contains("# not a heading"));
    }

    #[test]
    fn long_sections_overlap_and_stay_under_the_limit() {
        let sentence = "The quick brown fox jumps over the lazy dog near the river bank. ";
        let doc = format!("# Long\n\n{}", sentence.repeat(80));
        let chunks = chunk(&doc, Format::Markdown, "t");
        assert!(chunks.len() >= 4, "{}", chunks.len());
        for pair in chunks.windows(2) {
            assert!(pair[0].body.chars().count() <= MAX_CHUNK_CHARS);
            let carried: String = pair[1].body.chars().take(40).collect();
            assert!(pair[0].body.contains(&carried), "no overlap: {carried:?}");
        }
    }

    #[test]
    fn plain_text_and_html() {
        let text = chunk("First para.\n\nSecond para.", Format::Text, "Notes");
        assert_eq!(text.len(), 1);
        assert_eq!(text[0].title, "Notes");
        assert_eq!(text[0].body, "First para.\n\nSecond para.");
        let html = chunk("<h2>Opening hours</h2><p>9 to 5.</p>", Format::Html, "Site");
        assert_eq!(html[0].anchor, "opening-hours");
        assert_eq!(html[0].body, "9 to 5.");
        assert!(chunk("  \n\n ", Format::Text, "x").is_empty());
    }
}
