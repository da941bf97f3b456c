//! "Did you mean …?" suggestions via a small Levenshtein distance.
//!
//! Written by hand (instead of pulling a crate) because it is thirty lines
//! and only ever compares short identifiers such as state and slot names.

/// Edit distance between `a` and `b` in chars, counting an adjacent
/// transposition as one edit (optimal string alignment), so `nmae` → `name`
/// is a single typo.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The closest candidate to `target`, if it is plausibly a typo (distance at
/// most a third of the target's length, minimum 1; case-only differences
/// always qualify).
pub fn closest<'a, I>(target: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (target.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != target)
        .map(|c| {
            let d = if c.eq_ignore_ascii_case(target) {
                0
            } else {
                levenshtein(target, c)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// `Some("did you mean `x`?")` when a close candidate exists.
pub fn did_you_mean<'a, I>(target: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(target, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
        assert_eq!(levenshtein("nmae", "name"), 1);
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["billing_info", "ask_question", "goodbye"];
        assert_eq!(closest("billing_inf", names), Some("billing_info"));
        assert_eq!(closest("Goodbye", names), Some("goodbye"));
        assert_eq!(closest("zzz", names), None);
        assert_eq!(
            did_you_mean("ask_questoin", names).as_deref(),
            Some("did you mean `ask_question`?")
        );
    }
}
