//! Hybrid search: the question's nearest chunks by vector (the node's index) and its
//! best chunks by keywords (the store's full-text ranking), fused by reciprocal rank
//! (`1 / (60 + rank)` summed over both lists; Cormack et al., SIGIR 2009). Rank fusion
//! needs no score calibration between BM25 / `ts_rank` and cosine. Each hit still
//! carries its cosine similarity to the question: that absolute figure is what a flow's
//! `min_score` compares, since fused scores mean nothing across questions.

use std::collections::HashMap;

use crate::llm::embedding::{cosine, is_stop_word, words};

/// The `k` of reciprocal rank fusion.
pub const RRF_K: f32 = 60.0;

/// Most keywords taken from a question.
const MAX_TERMS: usize = 32;

/// Which rankings a search fuses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Vector similarity and keywords, fused by rank.
    #[default]
    Hybrid,
    /// Vector similarity only.
    Vector,
    /// Keywords only.
    Keyword,
}

/// The question's keywords for the full-text index: lower-case words of letters and
/// digits (so nothing needs escaping in FTS5 or `to_tsquery`), stop words out,
/// de-duplicated, at most [`MAX_TERMS`].
pub fn keywords(question: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in words(question) {
        if is_stop_word(&word) || out.contains(&word) || !word.chars().all(char::is_alphanumeric) {
            continue;
        }
        out.push(word);
        if out.len() == MAX_TERMS {
            break;
        }
    }
    out
}

/// Fuses ranked lists of chunk ids by reciprocal rank: best first, ties by first
/// appearance.
pub fn fuse(lists: &[&[String]]) -> Vec<(String, f32)> {
    let mut scores: HashMap<&str, (f32, usize)> = HashMap::new();
    let mut order = 0;
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let entry = scores.entry(id.as_str()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(String, f32, usize)> = scores
        .into_iter()
        .map(|(id, (score, first))| (id.to_owned(), score, first))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(id, score, _)| (id, score))
        .collect()
}

/// Cosine similarity of the question to a chunk, for hits the vector list missed.
pub fn similarity(query: &[f32], vector: &[f32]) -> f32 {
    cosine(query, vector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_plain_words() {
        assert_eq!(
            keywords("How do I reset MY password?! \"x\" OR reset"),
            ["reset", "password", "x"]
        );
        assert!(keywords("the of and").is_empty());
    }

    #[test]
    fn fusion_rewards_agreement() {
        let vector = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let keyword = vec!["b".to_owned(), "c".to_owned()];
        let fused = fuse(&[&vector, &keyword]);
        let ids: Vec<&str> = fused.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
    }
}
