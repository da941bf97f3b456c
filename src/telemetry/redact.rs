//! Redaction of personal data in log lines: e-mail addresses, phone numbers and payment
//! card numbers become `[email]`, `[phone]` and `[card]`.
//!
//! Patterns are tuned to keep what operators need: the leading timestamp is never
//! touched; ids (UUIDs, hex) are left whole, since a candidate glued to a letter, a digit
//! or a `-` is no match; a card needs 13 to 19 digits that pass the Luhn check and start
//! like a card (2 to 6), and no `+` before them; a phone number needs 9 to 15 digits, written with a leading `+`,
//! with separators, or bare (but a bare 10- or 13-digit number starting with 1 is a Unix
//! time in seconds or milliseconds, and stays).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("email pattern")
});

/// Digits with single separators: the candidates for cards and phone numbers.
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d(?:[ .\-()/]{0,2}\d)+").expect("number pattern"));

/// `line` with personal data replaced; the first word (the timestamp of a text line)
/// is kept as is.
pub fn redact(line: &str) -> Cow<'_, str> {
    let split = if line.starts_with('{') {
        0
    } else {
        line.find(' ').unwrap_or(line.len())
    };
    let (head, rest) = line.split_at(split);
    let emails = EMAIL.replace_all(rest, "[email]");
    let numbers = redact_numbers(&emails);
    if let (Cow::Borrowed(_), Cow::Borrowed(_)) = (&emails, &numbers) {
        return Cow::Borrowed(line);
    }
    Cow::Owned(format!("{head}{numbers}"))
}

fn redact_numbers(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut last = 0;
    for found in NUMBER.find_iter(text) {
        let (start, end) = (found.start(), found.end());
        // A `.` after a number ends a sentence (one followed by a digit would be part
        // of the match); before one, it is part of a name or a version.
        let glued = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| glued(c) || c == '.')
            || text[end..].chars().next().is_some_and(glued)
        {
            continue;
        }
        for (from, to, label) in labelled(found.as_str()) {
            out.push_str(&text[last..start + from]);
            out.push_str(label);
            last = start + to;
        }
    }
    if last == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// The personal numbers in a run of digits and separators, as (start, end, label). A
/// run can hold several numbers written one after the other ("+44 20 7946 0958 4111 1111
/// 1111 1111"): from each space-separated group on, the longest run of groups that is a
/// number wins.
fn labelled(run: &str) -> Vec<(usize, usize, &'static str)> {
    if let Some(label) = classify(run) {
        return vec![(0, run.len(), label)];
    }
    let mut groups = Vec::new();
    let mut offset = 0;
    for group in run.split(' ') {
        if !group.is_empty() {
            groups.push((offset, offset + group.len()));
        }
        offset += group.len() + 1;
    }
    let mut found = Vec::new();
    let mut i = 0;
    while i < groups.len() {
        let hit = (i + 1..=groups.len()).rev().find_map(|j| {
            let (from, to) = (groups[i].0, groups[j - 1].1);
            classify(&run[from..to]).map(|label| (j, from, to, label))
        });
        match hit {
            Some((j, from, to, label)) => {
                found.push((from, to, label));
                i = j;
            }
            None => i += 1,
        }
    }
    found
}

fn classify(candidate: &str) -> Option<&'static str> {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    let separated = candidate.chars().any(|c| !c.is_ascii_digit());
    let international = candidate.starts_with('+');
    if !international
        && (13..=19).contains(&digits.len())
        && (2..=6).contains(&digits[0])
        && luhn(&digits)
    {
        return Some("[card]");
    }
    if !(9..=15).contains(&digits.len()) {
        return None;
    }
    let unix_time = !separated && digits[0] == 1 && matches!(digits.len(), 10 | 13);
    (!unix_time).then_some("[phone]")
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (0, _) => d,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn personal_data_is_replaced() {
        for (line, expected) in [
            ("t mail ada@example.com now", "t mail [email] now"),
            ("t call +49 151 1234 5678.", "t call [phone]."),
            (
                "t call (555) 123-4567 or 015112345678",
                "t call [phone] or [phone]",
            ),
            ("t card 4111 1111 1111 1111!", "t card [card]!"),
            ("t card 4111-1111-1111-1111", "t card [card]"),
            ("t card 5500000000000004", "t card [card]"),
            (
                "t both +44 20 7946 0958 4111 1111 1111 1111 end",
                "t both [phone] [card] end",
            ),
        ] {
            assert_eq!(redact(line), expected, "{line}");
        }
    }

    #[test]
    fn operational_data_stays() {
        for line in [
            "2026-11-30T06:29:05.123456Z  INFO switchboard::app: listening addr=127.0.0.1:8080",
            "t conversation_id=0196d2c4-8f1e-7a3b-9c4d-446655440000 seq=12345",
            "t created_at=1700000000000 at=1700000000 took 250.5ms",
            "t hash=3f2a9b8c7d6e5f40312233445566778899aabbcc",
            "t batch of 256 writes in 1234 ms, 42 conversations",
        ] {
            assert_eq!(redact(line), line);
        }
    }

    #[test]
    fn json_lines_are_redacted_inside() {
        let line = r#"{"timestamp":"2026-11-30T06:29:05Z","fields":{"message":"from ada@example.com +44 20 7946 0958"}}"#;
        assert_eq!(
            redact(line),
            r#"{"timestamp":"2026-11-30T06:29:05Z","fields":{"message":"from [email] [phone]"}}"#
        );
    }
}
