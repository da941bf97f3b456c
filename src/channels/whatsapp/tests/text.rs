//! Property-style tests of `split_text` and `ParagraphStreamer` over random texts and
//! random fragmentations (deterministic seeds).

use super::Rng;
use crate::channels::whatsapp::{ParagraphStreamer, split_text};

const TOKENS: &[&str] = &[
    "word",
    "a",
    "Ünïcödé",
    "你好",
    "😀",
    "longwordwithoutanyspaces",
    " ",
    " ",
    " ",
    ". ",
    "! ",
    "? ",
    "…",
    "。",
    "\n",
    "\n\n",
    "\n\n\n",
    " \n \n ",
    "\r\n\r\n",
    "\t",
    "\"quoted.\" ",
    "-",
];

fn random_text(rng: &mut Rng, max_tokens: usize) -> String {
    let n = rng.below(max_tokens + 1);
    (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect()
}

/// Checks that `pieces` are `text` in order, with only whitespace between them and
/// after the last one.
fn assert_reconstructs(text: &str, pieces: &[String]) {
    let mut pos = 0;
    for piece in pieces {
        let mut found = None;
        let mut q = pos;
        loop {
            if text[q..].starts_with(piece.as_str()) {
                found = Some(q);
                break;
            }
            match text[q..].chars().next() {
                Some(c) if c.is_whitespace() => q += c.len_utf8(),
                _ => break,
            }
        }
        let Some(start) = found else {
            panic!("piece {piece:?} not found at byte {pos} of {text:?} (pieces {pieces:?})");
        };
        pos = start + piece.len();
    }
    assert!(
        text[pos..].trim().is_empty(),
        "lost text {:?} of {text:?} (pieces {pieces:?})",
        &text[pos..]
    );
}

#[test]
fn split_text_properties_hold_for_random_texts() {
    let mut rng = Rng::new(0x5eed);
    for _ in 0..3000 {
        let text = random_text(&mut rng, 60);
        let max = 1 + rng.below(40);
        let pieces = split_text(&text, max);
        for piece in &pieces {
            assert!(piece.chars().count() <= max, "{piece:?} > {max}");
            assert!(!piece.trim().is_empty(), "blank piece in {pieces:?}");
        }
        assert_reconstructs(&text, &pieces);
        if text.chars().count() <= max && !text.trim().is_empty() {
            assert_eq!(pieces, vec![text.clone()]);
        }
        // Non-whitespace content is exactly preserved.
        let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(strip(&pieces.concat()), strip(&text));
    }
}

#[test]
fn split_text_at_the_real_limit() {
    let paragraph = "Lorem ipsum dolor sit amet. ".repeat(100); // 2800 chars
    let text = format!("{paragraph}\n\n{paragraph}\n\n{paragraph}");
    let pieces = split_text(&text, 4096);
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces[0], paragraph.trim_end());
    assert_eq!(pieces[1], paragraph.trim_end());
    // The end of the text is not a split point: its trailing space is kept.
    assert_eq!(pieces[2], paragraph);

    let no_spaces = "ü".repeat(10_000);
    let pieces = split_text(&no_spaces, 4096);
    let lens: Vec<usize> = pieces.iter().map(|p| p.chars().count()).collect();
    assert_eq!(lens, vec![4096, 4096, 1808]);
    assert_eq!(pieces.concat(), no_spaces);
}

/// Reference: split at every whitespace run containing at least two `\n`, trim each
/// part, drop empty parts.
fn reference_paragraphs(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut run = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() {
            run.push(ch);
            continue;
        }
        if run.matches('\n').count() >= 2 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push_str(&run);
        }
        run.clear();
        current.push(ch);
    }
    parts.push(current);
    parts
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn fragment(rng: &mut Rng, text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let len = 1 + rng.below(6).min(chars.len() - i - 1);
        out.push(chars[i..i + len].iter().collect());
        i += len;
        if rng.below(10) == 0 {
            out.push(String::new());
        }
    }
    out
}

#[test]
fn paragraph_streamer_is_independent_of_fragmentation() {
    let mut rng = Rng::new(42);
    for _ in 0..3000 {
        let text = random_text(&mut rng, 50);
        let expected = reference_paragraphs(&text);
        for _ in 0..3 {
            let mut streamer = ParagraphStreamer::new();
            let mut emitted = Vec::new();
            for piece in fragment(&mut rng, &text) {
                emitted.extend(streamer.push(&piece));
            }
            emitted.extend(streamer.finish());
            assert_eq!(emitted, expected, "text {text:?}");
            let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(strip(&emitted.concat()), strip(&text));
            for paragraph in &emitted {
                assert_eq!(paragraph.trim(), paragraph);
                assert!(!paragraph.is_empty());
            }
        }
    }
}

#[test]
fn streamed_paragraphs_then_split_fit_whatsapp() {
    let long = "word ".repeat(2000);
    let text = format!("Intro.\n\n{long}\n\nOutro.");
    let mut streamer = ParagraphStreamer::new();
    let mut messages = Vec::new();
    for chunk in text.as_bytes().chunks(7) {
        // ASCII text, so byte chunks are valid UTF-8.
        let chunk = std::str::from_utf8(chunk).expect("ascii");
        for paragraph in streamer.push(chunk) {
            messages.extend(split_text(&paragraph, 4096));
        }
    }
    if let Some(paragraph) = streamer.finish() {
        messages.extend(split_text(&paragraph, 4096));
    }
    assert_eq!(messages.first().map(String::as_str), Some("Intro."));
    assert_eq!(messages.last().map(String::as_str), Some("Outro."));
    assert_eq!(messages.len(), 5);
    assert!(messages.iter().all(|m| m.chars().count() <= 4096));
}
