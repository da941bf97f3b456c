//! Serde types mirroring the YAML flow format one-to-one.
//!
//! These types are deliberately "dumb": every field is optional where the
//! format allows it to be absent and no cross-field rule is enforced here, so
//! that the compiler (not serde) can report missing or conflicting pieces
//! with precise pointers, codes and hints. Every struct denies unknown fields
//! and every map is a `BTreeMap`, which keeps serialisation deterministic for
//! the content hash.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A whole flow file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub slots: BTreeMap<String, SlotDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    pub states: BTreeMap<String, StateDef>,
    /// Global interrupts, checked on every answer to a `collect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interrupts: Vec<InterruptDef>,
    /// An abandoned conversation ends after this long without an answer to a `collect`
    /// that has no `timeout` of its own (`30m`, `24h`, `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
    /// The approved WhatsApp template a timer sends instead of its messages when the
    /// user last wrote more than 24 hours ago (outside WhatsApp's customer-service
    /// window only templates may be sent). Without one, such messages are not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_template: Option<WhatsappTemplateDef>,
}

/// `whatsapp_template:` an approved message template, by name and language code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappTemplateDef {
    /// Lowercase letters, digits and `_` (as Meta names templates), 1–512.
    pub name: String,
    /// The template's language code: `en`, `en_US`, `pt_BR`.
    pub language: String,
}

impl WhatsappTemplateDef {
    /// Meta's template name rule.
    pub fn name_is_valid(name: &str) -> bool {
        (1..=512).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    /// `ll` or `ll_CC` (ISO 639-1 language, optional ISO 3166 country).
    pub fn language_is_valid(language: &str) -> bool {
        let b = language.as_bytes();
        let lang = |s: &[u8]| s.len() == 2 && s.iter().all(u8::is_ascii_lowercase);
        match b.len() {
            2 => lang(b),
            5 => lang(&b[..2]) && b[2] == b'_' && b[3..].iter().all(u8::is_ascii_uppercase),
            _ => false,
        }
    }
}

/// The declared type of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotKind {
    String,
    Enum,
    Integer,
    Number,
    Boolean,
    Email,
    Phone,
    Date,
    Regex,
    /// Any JSON object (adaptor results, `set` from a CEL map literal).
    Object,
}

impl SlotKind {
    /// Every slot type, in the order the format documents them.
    pub const ALL: [SlotKind; 10] = [
        SlotKind::String,
        SlotKind::Enum,
        SlotKind::Integer,
        SlotKind::Number,
        SlotKind::Boolean,
        SlotKind::Email,
        SlotKind::Phone,
        SlotKind::Date,
        SlotKind::Regex,
        SlotKind::Object,
    ];

    /// The name used in flow files (`string`, `enum`, …).
    pub fn name(self) -> &'static str {
        match self {
            SlotKind::String => "string",
            SlotKind::Enum => "enum",
            SlotKind::Integer => "integer",
            SlotKind::Number => "number",
            SlotKind::Boolean => "boolean",
            SlotKind::Email => "email",
            SlotKind::Phone => "phone",
            SlotKind::Date => "date",
            SlotKind::Regex => "regex",
            SlotKind::Object => "object",
        }
    }
}

/// A slot declaration. Options that do not apply to `type` are rejected by
/// the compiler, not by serde, so the message can name the slot type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotDef {
    #[serde(rename = "type")]
    pub kind: SlotKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// One state. Exactly one of the action keys must be present; the compiler
/// checks that so it can report `missing-action` / `multiple-actions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collect: Option<CollectDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<HandoffDef>,
    /// `None` = key absent; `Some(None)` = `end: ~`; `Some(Some(text))`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Next>,
}

/// `collect:` action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectDef {
    pub slot: String,
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<String>,
    /// How long to wait for an answer (`90s`, `10m`, `2h`, `1d`) before `on_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Where to go when no answer came within `timeout`: a reminder that comes back,
    /// another state, or an `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<String>,
}

/// `llm:` action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Required unless `extract` is given (then it defaults to `{{ input }}`);
    /// the compiler reports its absence so it can explain that rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Slots the model should fill (structured extraction); excludes `save_as`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// A route of `[llm.routes]`, a `provider:model` or a model; overrides the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where to go when the tenant's budget stops the call (else a handoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_budget: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
    /// Knowledge bases the reply answers from: the user's question retrieves their best
    /// chunks into the prompt, and the reply cites them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<Vec<String>>,
    /// Below this similarity (0–1) of the best chunk there is no answer (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    /// How many chunks go into the prompt (1–20, default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Where to go when the knowledge bases hold no answer (else the apology and `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_no_answer: Option<String>,
    /// What to search the knowledge bases for: a template over the slots and `input`
    /// (default: the user's latest message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// `call:` action: a tenant-configured HTTP adaptor, run by the runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallDef {
    pub adaptor: String,
    /// Argument name → template rendered when the state is entered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

/// `handoff:` action: give the conversation to a human agent queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffDef {
    pub queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One global interrupt: exactly one of `match` / `when` (checked by the
/// compiler) and the state to jump to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterruptDef {
    /// Phrases matched case-insensitively against the whole trimmed message.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub phrases: Option<Vec<String>>,
    /// A CEL condition over the slots and `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub goto: String,
}

/// `next:` — a plain target or a list of branches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Next {
    Goto(String),
    Branches(Vec<BranchDef>),
}

/// One entry of a branch list: `{if, then}` or `{else}`. Shape rules (which
/// keys go together, `else` last) are checked by the compiler.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchDef {
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<String>,
    #[serde(rename = "else", default, skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<String>,
}

/// Distinguishes "key absent" from "key present with null value".
fn present<'de, D>(deserializer: D) -> Result<Option<Option<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Hand-written so a wrong shape gives one clear message instead of serde's
/// "did not match any variant of untagged enum".
impl<'de> Deserialize<'de> for Next {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NextVisitor;
        impl<'de> Visitor<'de> for NextVisitor {
            type Value = Next;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a state name or a list of `if`/`then` branches ending in `else`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Next, E> {
                Ok(Next::Goto(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Next, A::Error> {
                let mut branches = Vec::new();
                while let Some(branch) = seq.next_element::<BranchDef>()? {
                    branches.push(branch);
                }
                Ok(Next::Branches(branches))
            }
        }
        deserializer.deserialize_any(NextVisitor)
    }
}
