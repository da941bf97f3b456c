//! Splitting a long reply into WhatsApp-sized messages (Meta caps a text body at
//! 4096 characters). Counts `char`s (Unicode scalar values), not bytes.
//!
//! Where a piece ends, in order of preference, choosing the latest such point that
//! keeps the piece within the limit:
//! 1. a paragraph break: a whitespace run containing two or more `\n`;
//! 2. a line break: a whitespace run containing one `\n`;
//! 3. a sentence end: a whitespace run after `.`, `!`, `?` or `…` (optionally followed
//!    by closing quotes/brackets), or directly after `。`, `！`, `？`;
//! 4. any other whitespace run;
//! 5. otherwise a hard cut at exactly the limit (no whitespace in the window; this can
//!    split a multi-codepoint grapheme such as a flag or a ZWJ emoji).
//!
//! What is dropped, exactly: the whitespace run a piece is split on (all of it — it
//! is the trailing whitespace of the left piece and the leading whitespace of the
//! right piece), and pieces that would consist only of whitespace. Nothing else:
//! leading whitespace of the whole text and trailing whitespace of the last piece are
//! kept, no characters are duplicated, and the pieces appear in text order.

/// Splits `text` into pieces of at most `max_chars` characters (at least 1 is used),
/// as described in the module docs. Empty or whitespace-only text gives no pieces.
pub fn split_text(text: &str, max_chars: usize) -> Vec<String> {
    let max = max_chars.max(1);
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let Some((window_end, _)) = rest.char_indices().nth(max) else {
            push_piece(&mut out, rest);
            return out;
        };
        let (cut, resume) = find_split(rest, window_end);
        push_piece(&mut out, &rest[..cut]);
        rest = &rest[resume..];
    }
}

fn push_piece(out: &mut Vec<String>, piece: &str) {
    if !piece.trim().is_empty() {
        out.push(piece.to_owned());
    }
}

/// Tiers of split points, best first.
const PARAGRAPH: usize = 0;
const LINE: usize = 1;
const SENTENCE: usize = 2;
const SPACE: usize = 3;

/// Finds `(cut, resume)` byte offsets in `rest`, which is longer than the limit and
/// whose first `window_end` bytes are exactly the limit in characters: the piece is
/// `rest[..cut]`, the next piece starts at `rest[resume..]`, and
/// `0 < cut <= window_end`, `cut <= resume` (so every call makes progress).
fn find_split(rest: &str, window_end: usize) -> (usize, usize) {
    let mut best: [Option<(usize, usize)>; 4] = [None; 4];
    let mut consider = |start: usize, end: usize, newlines: usize| {
        if start == 0 || start > window_end {
            return;
        }
        let tier = match newlines {
            0 if ends_sentence(&rest[..start]) => SENTENCE,
            0 => SPACE,
            1 => LINE,
            _ => PARAGRAPH,
        };
        best[tier] = Some((start, end));
    };
    // (start, newline count) of the whitespace run being scanned.
    let mut run: Option<(usize, usize)> = None;
    let mut cjk_sentence_end = None;
    for (idx, ch) in rest.char_indices() {
        if ch.is_whitespace() {
            match run.as_mut() {
                Some((_, newlines)) => *newlines += usize::from(ch == '\n'),
                None if idx > window_end => break,
                None => run = Some((idx, usize::from(ch == '\n'))),
            }
            continue;
        }
        if let Some((start, newlines)) = run.take() {
            consider(start, idx, newlines);
        }
        if idx >= window_end {
            break;
        }
        if matches!(ch, '。' | '！' | '？') {
            let after = idx + ch.len_utf8();
            if after <= window_end {
                cjk_sentence_end = Some(after);
            }
        }
    }
    if let Some((start, newlines)) = run {
        consider(start, rest.len(), newlines);
    }
    if let Some(after) = cjk_sentence_end
        && best[SENTENCE].is_none_or(|(start, _)| start < after)
    {
        best[SENTENCE] = Some((after, after));
    }
    best.into_iter()
        .flatten()
        .next()
        .unwrap_or((window_end, window_end))
}

/// Whether `prefix` ends with sentence punctuation, allowing up to three closing
/// quotes/brackets after it (`He said "no."`).
fn ends_sentence(prefix: &str) -> bool {
    for ch in prefix.chars().rev().take(4) {
        match ch {
            '.' | '!' | '?' | '…' | '。' | '！' | '？' => return true,
            '"' | '\'' | '”' | '’' | ')' | ']' | '»' | '*' | '_' => continue,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_piece_unchanged() {
        assert_eq!(split_text("  hi there \n", 4096), vec!["  hi there \n"]);
        assert!(split_text("", 10).is_empty());
        assert!(split_text(" \n\t ", 10).is_empty());
    }

    #[test]
    fn prefers_paragraph_then_line_then_sentence_then_space() {
        assert_eq!(
            split_text("aaa. bbb\nccc\n\nddd eee", 20),
            vec!["aaa. bbb\nccc", "ddd eee"]
        );
        assert_eq!(
            split_text("aaa. bbb\nccc ddd", 14),
            vec!["aaa. bbb", "ccc ddd"]
        );
        assert_eq!(
            split_text("aaa bb. ccc ddd", 13),
            vec!["aaa bb.", "ccc ddd"]
        );
        assert_eq!(
            split_text("aaa bbb ccc ddd", 13),
            vec!["aaa bbb ccc", "ddd"]
        );
        assert_eq!(split_text("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn whitespace_right_after_the_window_is_a_split_point() {
        assert_eq!(split_text("abcd efgh", 4), vec!["abcd", "efgh"]);
    }

    #[test]
    fn cjk_sentence_end_and_closing_quotes() {
        assert_eq!(split_text("你好。世界你好", 5), vec!["你好。", "世界你好"]);
        assert_eq!(
            split_text("He said \"no.\" Then left", 16),
            vec!["He said \"no.\"", "Then left"]
        );
    }

    #[test]
    fn counts_chars_not_bytes() {
        let text = "é".repeat(10);
        let pieces = split_text(&text, 4);
        assert_eq!(pieces, vec!["éééé", "éééé", "éé"]);
    }

    #[test]
    fn zero_limit_does_not_loop() {
        assert_eq!(split_text("ab", 0), vec!["a", "b"]);
    }
}
