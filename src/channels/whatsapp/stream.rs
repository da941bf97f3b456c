//! How WhatsApp "streams" an LLM reply: it cannot edit sent messages, so each
//! finished paragraph is sent as its own message as soon as it is complete.
//! [`ParagraphStreamer`] is the pure logic: it takes text fragments as they arrive and
//! hands back the paragraphs completed so far.
//!
//! A paragraph separator is a whitespace run containing at least two `\n` (`\n\n`,
//! `\r\n\r\n`, `\n  \n`, …), recognised even when it straddles fragments. Paragraphs
//! are trimmed and empty ones are skipped, so the output for a text does not depend
//! on how it was fragmented: it equals splitting the full text at its separators,
//! trimming each part and dropping empty parts. Paragraphs are not length-limited;
//! run each through [`super::split_text`] before sending.

/// Accumulates fragments and yields completed paragraphs. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct ParagraphStreamer {
    /// Text not yet emitted.
    buf: String,
    /// Bytes of `buf` already scanned for separators.
    scanned: usize,
    /// Start (in `buf`) and newline count of the whitespace run at the scan position.
    run: Option<(usize, usize)>,
}

impl ParagraphStreamer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `fragment`; returns every paragraph completed by it (trimmed, non-empty),
    /// in order. Most calls return an empty `Vec`.
    pub fn push(&mut self, fragment: &str) -> Vec<String> {
        self.buf.push_str(fragment);
        let mut out = Vec::new();
        while let Some((para_end, next_start)) = self.next_separator() {
            let paragraph = self.buf[..para_end].trim();
            if !paragraph.is_empty() {
                out.push(paragraph.to_owned());
            }
            self.buf.drain(..next_start);
            self.scanned = 0;
            self.run = None;
        }
        out
    }

    /// Ends the stream: the remaining text, trimmed, if any.
    pub fn finish(self) -> Option<String> {
        let rest = self.buf.trim();
        (!rest.is_empty()).then(|| rest.to_owned())
    }

    /// Scans unscanned bytes for the second `\n` of a whitespace run. Returns
    /// `(run start, byte after that newline)`, or `None` after scanning everything.
    fn next_separator(&mut self) -> Option<(usize, usize)> {
        let from = self.scanned;
        for (offset, ch) in self.buf[from..].char_indices() {
            let idx = from + offset;
            if !ch.is_whitespace() {
                self.run = None;
                continue;
            }
            let (start, newlines) = self.run.get_or_insert((idx, 0));
            if ch == '\n' {
                *newlines += 1;
                if *newlines >= 2 {
                    return Some((*start, idx + 1));
                }
            }
        }
        self.scanned = self.buf.len();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_paragraphs_as_they_complete() {
        let mut s = ParagraphStreamer::new();
        assert!(s.push("Hello").is_empty());
        assert!(s.push(" world.\n").is_empty());
        assert_eq!(s.push("\nSecond"), vec!["Hello world."]);
        assert_eq!(s.push(" para.\r\n\r\n\n\nThird\n"), vec!["Second para."]);
        assert_eq!(s.finish().as_deref(), Some("Third"));
    }

    #[test]
    fn single_newlines_stay_inside_a_paragraph() {
        let mut s = ParagraphStreamer::new();
        assert!(s.push("- a\n- b\n").is_empty());
        assert_eq!(s.push(" \n- c"), vec!["- a\n- b"]);
        assert_eq!(s.finish().as_deref(), Some("- c"));
    }

    #[test]
    fn whitespace_only_produces_nothing() {
        let mut s = ParagraphStreamer::new();
        assert!(s.push("\n\n  \n\n").is_empty());
        assert_eq!(s.finish(), None);
    }
}
