//! Embeddings: the vectors retrieval compares, and the offline model's own.
//!
//! [`EmbeddingRequest`] is what the knowledge base asks the gateway for (texts in, one
//! vector per text out); it travels the same route, breaker, budget and metering as a
//! chat call (`LlmGateway::embed`). The offline model embeds deterministically with the
//! hashing trick: lower-cased words (a few stop words left out), word bigrams and
//! character trigrams are hashed (FNV-1a) into [`OFFLINE_DIMENSIONS`] signed buckets and
//! the sum is L2-normalised. No network, no weights, the same vector on every machine,
//! and texts that share words and word pieces land close together, so the demo and the
//! tests retrieve sensibly.

use super::CallOrigin;

/// The model name recorded for the offline model's embeddings.
pub const OFFLINE_EMBEDDING_MODEL: &str = "offline-embedding";

/// Length of an offline embedding.
pub const OFFLINE_DIMENSIONS: usize = 256;

/// Texts to embed, charged to `origin`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbeddingRequest {
    pub inputs: Vec<String>,
    /// Who the call is charged to.
    pub origin: CallOrigin,
}

/// One vector per input, in input order, and the model that made them.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub model: String,
    pub vectors: Vec<Vec<f32>>,
}

const STOP_WORDS: [&str; 48] = [
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "so", "that", "the", "their",
    "then", "there", "this", "to", "was", "what", "when", "where", "which", "who", "why", "will",
    "with", "you", "your", "we", "our", "has", "have",
];

/// The lower-cased words of `text` (letters and digits), stop words included.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// True for the few very common English words the offline embedding leaves out.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// A light stem: plural and common suffixes off, so `budgets` meets `budget`.
fn stem(word: &str) -> &str {
    for suffix in ["ing", "ed", "es", "s"] {
        if word.len() > suffix.len() + 3
            && let Some(stripped) = word.strip_suffix(suffix)
        {
            return stripped;
        }
    }
    word
}

/// The offline model's embedding of `text`: deterministic, unit length (all zeros for a
/// text without words).
pub fn offline_embedding(text: &str) -> Vec<f32> {
    let mut vector = vec![0f32; OFFLINE_DIMENSIONS];
    let words: Vec<String> = words(text)
        .into_iter()
        .filter(|w| !is_stop_word(w))
        .map(|w| stem(&w).to_owned())
        .collect();
    for (i, word) in words.iter().enumerate() {
        add_feature(&mut vector, b'w', word.as_bytes(), 1.0);
        if let Some(next) = words.get(i + 1) {
            let bigram = format!("{word} {next}");
            add_feature(&mut vector, b'b', bigram.as_bytes(), 0.5);
        }
        let padded: Vec<char> = format!("<{word}>").chars().collect();
        for gram in padded.windows(3) {
            let gram: String = gram.iter().collect();
            add_feature(&mut vector, b'c', gram.as_bytes(), 0.25);
        }
    }
    normalise(&mut vector);
    vector
}

/// Scales `vector` to unit length (a zero vector stays zero).
pub fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in vector.iter_mut() {
            *x /= norm;
        }
    }
}

fn add_feature(vector: &mut [f32], kind: u8, bytes: &[u8], weight: f32) {
    let hash = fnv1a(kind, bytes);
    let bucket = (hash % vector.len() as u64) as usize;
    let sign = if (hash >> 63) == 0 { 1.0 } else { -1.0 };
    vector[bucket] += sign * weight;
}

fn fnv1a(kind: u8, bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(kind).chain(bytes.iter().copied()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64 finaliser: FNV's low bits barely vary for short inputs.
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Cosine similarity of two unit vectors (their dot product); 0 when the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_embedding_is_deterministic_and_unit_length() {
        let a = offline_embedding("How do I reset my password?");
        assert_eq!(a, offline_embedding("How do I reset my password?"));
        assert_eq!(a.len(), OFFLINE_DIMENSIONS);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert!(offline_embedding("  ?! ").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn related_texts_are_closer_than_unrelated_ones() {
        let question = offline_embedding("how do I reset my password");
        let answer = offline_embedding(
            "To reset a forgotten password, open Settings and choose Reset password.",
        );
        let other = offline_embedding("Our offices are closed on public holidays in December.");
        assert!(cosine(&question, &answer) > cosine(&question, &other) + 0.2);
    }
}
