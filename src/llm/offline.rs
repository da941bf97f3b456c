//! The built-in offline model: a deterministic, network-free stand-in used when no
//! upstream is configured (demos, tests, load benchmarks). Its reply depends only on
//! the prompt — it quotes the last user message and explains that it is the offline
//! demo model — and is streamed word by word with a configurable delay so clients
//! see the same progressive rendering as with a real model.

use std::time::Duration;

use futures_util::StreamExt;

use super::provider::{BoxFuture, Provider};
use super::usage::UsageSlot;
use super::{ChatMessage, CompletionRequest, LlmError, Role, TokenStream};

/// The model name reported by an offline gateway.
pub const OFFLINE_MODEL: &str = "offline-demo";

/// Maximum words / characters of the user's message quoted back.
const QUOTE_MAX_WORDS: usize = 12;
const QUOTE_MAX_CHARS: usize = 80;

const OPENINGS: [&str; 3] = [
    "Thanks for your message! You said \"{q}\", and since I'm the offline demo model, I can only echo it back rather than really think about it.",
    "Hello there! I received \"{q}\" loud and clear. I'm Switchboard's offline demo model, so my answers are canned, but the streaming you see is real.",
    "Good question! About \"{q}\": I'm just the offline demo model, running without any network access, so I can't give you a real answer yet.",
];

const NO_QUESTION: &str = "Hello! I'm Switchboard's offline demo model, and I don't see a message from you yet, so there is nothing for me to echo back right now.";

const CLOSINGS: [&str; 3] = [
    "Point the gateway at an OpenAI-compatible API to get genuine replies.",
    "Set an LLM base URL in the configuration, and a real model will take over from here.",
    "Until a real model is configured, I'll keep answering like this, one word at a time.",
];

/// The complete reply the offline model gives to `messages` (what the stream concatenates to).
pub fn reply_for(messages: &[ChatMessage]) -> String {
    // With passages from the tenant's documents (a knowledge state), the offline model
    // quotes the best one: the demo then answers from what was uploaded.
    if let Some(last) = messages.iter().rev().find(|m| m.role == Role::User)
        && let Some(passage) = best_passage(&last.content)
    {
        return format!(
            "From our documents [1]: {passage} (I'm the offline demo model: I quote the best passage instead of writing an answer.)"
        );
    }
    let seed = seed_of(messages);
    let opening = match messages.iter().rev().find(|m| m.role == Role::User) {
        Some(last) if !last.content.trim().is_empty() => {
            let template = OPENINGS[(seed % OPENINGS.len() as u64) as usize];
            template.replace("{q}", &quote(&last.content))
        }
        _ => NO_QUESTION.to_owned(),
    };
    let count = messages.len();
    let plural = if count == 1 { "" } else { "s" };
    let closing = CLOSINGS[((seed >> 32) % CLOSINGS.len() as u64) as usize];
    format!("{opening} This conversation has {count} message{plural} so far. {closing}")
}

/// Splits text into word-ish fragments, each carrying its leading whitespace
/// (`"Hi there!"` → `["Hi", " there!"]`); concatenating them gives back `text` exactly.
pub fn fragments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_is_space = true;
    for (i, c) in text.char_indices() {
        let is_space = c.is_whitespace();
        if is_space && !prev_is_space && i > start {
            out.push(text[start..i].to_owned());
            start = i;
        }
        prev_is_space = is_space;
    }
    if start < text.len() {
        out.push(text[start..].to_owned());
    }
    out
}

/// The offline model as a [`Provider`]: whatever model a route names, this one answers.
pub(crate) struct OfflineProvider {
    token_delay: Duration,
}

impl OfflineProvider {
    pub(crate) fn new(token_delay: Duration) -> Self {
        Self { token_delay }
    }
}

impl Provider for OfflineProvider {
    fn kind(&self) -> &'static str {
        "offline"
    }

    fn stream<'a>(
        &'a self,
        req: &'a CompletionRequest,
        _model: &'a str,
        _usage: UsageSlot,
    ) -> BoxFuture<'a, Result<TokenStream, LlmError>> {
        let stream = stream(&req.messages, req.max_tokens, self.token_delay);
        Box::pin(async move { Ok(stream) })
    }

    /// Extracts deterministically from the last user message.
    fn complete_json<'a>(
        &'a self,
        req: &'a CompletionRequest,
        _model: &'a str,
        schema: &'a serde_json::Value,
        _usage: &'a UsageSlot,
    ) -> BoxFuture<'a, Result<String, LlmError>> {
        let last_user = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("");
        let values = super::extract::offline_extract(last_user, schema);
        let text = serde_json::Value::Object(values).to_string();
        Box::pin(async move { Ok(text) })
    }

    fn embed<'a>(
        &'a self,
        inputs: &'a [String],
        _model: &'a str,
        _usage: &'a UsageSlot,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, LlmError>> {
        let vectors = inputs
            .iter()
            .map(|text| super::embedding::offline_embedding(text))
            .collect();
        Box::pin(async move { Ok(vectors) })
    }

    fn counts_own(&self) -> bool {
        true
    }
}

/// The offline model's own count of a prompt's tokens: its word-ish fragments.
pub fn prompt_tokens(messages: &[ChatMessage]) -> u64 {
    messages
        .iter()
        .map(|m| fragments(&m.content).len() as u64)
        .sum()
}

/// Streams the reply to `messages`, sleeping `token_delay` before each fragment.
/// `max_tokens` caps the number of fragments, like a real model's length limit.
pub(crate) fn stream(
    messages: &[ChatMessage],
    max_tokens: Option<u32>,
    token_delay: Duration,
) -> TokenStream {
    let mut parts = fragments(&reply_for(messages));
    if let Some(max) = max_tokens {
        parts.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    Box::pin(
        futures_util::stream::iter(parts).then(move |part| async move {
            if !token_delay.is_zero() {
                tokio::time::sleep(token_delay).await;
            }
            Ok(part)
        }),
    )
}

/// The user's message, whitespace-collapsed and shortened for quoting.
/// The first sentences of the first passage of a knowledge data block, if `content` has
/// one (see `prompt::add_knowledge`: `[1] Title (link)`, then the passage).
fn best_passage(content: &str) -> Option<String> {
    use super::prompt::{KNOWLEDGE_CLOSE, KNOWLEDGE_OPEN};
    let (_, block) = content.split_once(KNOWLEDGE_OPEN)?;
    let block = block.split(KNOWLEDGE_CLOSE).next()?;
    let first = block.trim_start().strip_prefix("[1]")?;
    let (_, passage) = first.split_once('\n')?;
    let passage = passage.split("\n\n[2]").next()?;
    let text: String = passage
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() {
        return None;
    }
    let mut quoted: String = text.chars().take(280).collect();
    if quoted.len() < text.len() {
        quoted.push('…');
    }
    Some(quoted)
}

fn quote(content: &str) -> String {
    let words: Vec<&str> = content.split_whitespace().collect();
    let mut quoted = words
        .iter()
        .take(QUOTE_MAX_WORDS)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let mut truncated = words.len() > QUOTE_MAX_WORDS;
    if let Some((cut, _)) = quoted.char_indices().nth(QUOTE_MAX_CHARS) {
        quoted.truncate(cut);
        truncated = true;
    }
    if truncated {
        quoted.push('…');
    }
    quoted
}

/// FNV-1a over roles and contents plus a splitmix64 finaliser (raw FNV's low bits
/// barely vary for short inputs). Stable across Rust versions, unlike `DefaultHasher`.
fn seed_of(messages: &[ChatMessage]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for m in messages {
        for byte in m
            .role
            .as_str()
            .bytes()
            .chain([0])
            .chain(m.content.bytes())
            .chain([0])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_passages_it_quotes_the_best_one() {
        let mut request = crate::llm::CompletionRequest::new(vec![ChatMessage::user(
            "How long can I return things?",
        )]);
        let hit = |title: &str, text: &str| crate::knowledge::Hit {
            chunk_id: "c".into(),
            kb: "help".into(),
            doc_id: "d".into(),
            version: 1,
            title: title.into(),
            anchor: String::new(),
            source: String::new(),
            text: text.into(),
            similarity: 0.9,
            score: 0.9,
        };
        crate::llm::prompt::add_knowledge(
            &mut request,
            &[
                hit(
                    "Returns",
                    "# Returns\n\nYou can return any item within 30 days.",
                ),
                hit("Warranty", "Two years."),
            ],
        );
        let reply = reply_for(&request.messages);
        assert!(
            reply.starts_with("From our documents [1]: You can return any item within 30 days."),
            "{reply}"
        );
        assert!(
            !reply.contains("KNOWLEDGE") && !reply.contains("Two years"),
            "{reply}"
        );
        // Without a data block it answers as before.
        assert!(reply_for(&[ChatMessage::user("hi")]).contains("offline demo model"));
    }

    fn samples() -> Vec<Vec<ChatMessage>> {
        let long = "word ".repeat(200);
        let unbroken = "x".repeat(5000);
        vec![
            vec![],
            vec![ChatMessage::system("be nice")],
            vec![ChatMessage::user("hi")],
            vec![ChatMessage::user("   \n ")],
            vec![
                ChatMessage::system("You are helpful."),
                ChatMessage::user("What is the capital of France?"),
                ChatMessage::assistant("Paris."),
                ChatMessage::user("And of Germany?\nPlease answer briefly."),
            ],
            vec![ChatMessage::user(long)],
            vec![ChatMessage::user(unbroken)],
            vec![ChatMessage::user("¿Qué tal? 日本語のテキスト 🎉")],
        ]
    }

    #[test]
    fn reply_is_deterministic_and_sized() {
        for messages in samples() {
            let a = reply_for(&messages);
            assert_eq!(a, reply_for(&messages.clone()));
            let words = a.split_whitespace().count();
            assert!((25..=60).contains(&words), "{words} words: {a}");
            assert!(
                a.matches(". ").count() + a.matches("! ").count() >= 2,
                "{a}"
            );
            assert!(a.contains("offline demo model"), "{a}");
        }
    }

    #[test]
    fn reply_mentions_last_user_message() {
        let messages = vec![
            ChatMessage::user("first question"),
            ChatMessage::assistant("answer"),
            ChatMessage::user("tell me about   rust"),
        ];
        assert!(reply_for(&messages).contains("\"tell me about rust\""));
    }

    #[test]
    fn replies_vary_with_input() {
        let replies: std::collections::HashSet<String> = (0..20)
            .map(|i| reply_for(&[ChatMessage::user(format!("q{i}"))]))
            .map(|r| r.split('"').next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(replies.len(), OPENINGS.len(), "openings not all used");
        let closings: std::collections::HashSet<&str> = (0..20)
            .map(|i| reply_for(&[ChatMessage::user(format!("q{i}"))]))
            .map(|r| {
                CLOSINGS
                    .into_iter()
                    .find(|c| r.ends_with(c))
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(closings.len(), CLOSINGS.len(), "closings not all used");
    }

    #[test]
    fn fragments_roundtrip() {
        for text in [
            "",
            "one",
            "Hi there!",
            "  leading and trailing  ",
            "multi\n\nline  text\ttabs",
            "ünïcödé 日本 🎉 ok",
        ] {
            let parts = fragments(text);
            assert_eq!(parts.concat(), text);
            assert!(parts.iter().all(|p| !p.is_empty()));
        }
        assert_eq!(fragments("Hi there, you!"), vec!["Hi", " there,", " you!"]);
    }
}
