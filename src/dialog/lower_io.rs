//! Lowering of the actions that hand work to the runtime: `llm` (streamed
//! replies and structured extraction), `call` (tenant HTTP adaptors) and
//! `handoff` (human agents).
//!
//! Besides the usual reference checks these validate the runtime-facing
//! options — temperature, timeout, queue and adaptor names, and, when the
//! tenant's adaptors are known, that the adaptor exists — and precompute
//! what must not be rebuilt per turn, such as the extraction JSON Schema.

use std::collections::BTreeSet;

use crate::dialog::definition::{CallDef, HandoffDef, LlmDef, SlotKind};
use crate::dialog::diagnostics::{Diagnostic, pointer};
use crate::dialog::extract::extract_schema;
use crate::dialog::flow::{Call, DEFAULT_EXTRACT_PROMPT, DEFAULT_HISTORY, Handoff, Llm};
use crate::dialog::lower::Lowering;
use crate::dialog::state::ExtractSpec;
use crate::dialog::suggest::did_you_mean;

/// Longest accepted `timeout_ms` of a `call`.
pub const MAX_TIMEOUT_MS: u64 = 60_000;

/// `[a-z0-9_-]{1,64}`: flow ids and queue names.
pub fn is_plain_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// `[A-Za-z0-9_.-]{1,64}`: adaptor names.
fn is_adaptor_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Lowering<'_> {
    pub(super) fn llm(&mut self, state: &str, def: &LlmDef) -> Option<Llm> {
        let p = |f: &str| pointer(&["states", state, "llm", f]);
        if let (Some(_), Some(_)) = (&def.extract, &def.save_as) {
            self.out.push(
                Diagnostic::error(
                    "extract-with-save-as",
                    p("save_as"),
                    "`extract` and `save_as` cannot be combined",
                )
                .with_hint("`extract` fills the listed slots; remove `save_as`"),
            );
        } else if let Some(slot) = &def.save_as {
            self.typed_slot(
                &p("save_as"),
                slot,
                SlotKind::String,
                "the whole LLM reply is stored as text",
            );
        }
        if let Some(target) = &def.on_error {
            self.target(&p("on_error"), target, "on_error");
        }
        if let Some(target) = &def.on_budget {
            self.target(&p("on_budget"), target, "on_budget");
        }
        let knowledge = self.knowledge(state, def);
        if let Some(t) = def.temperature
            && !(0.0..=2.0).contains(&t)
        {
            self.out.push(Diagnostic::error(
                "invalid-temperature",
                p("temperature"),
                format!("temperature {t} is outside 0.0..=2.0"),
            ));
        }
        let extract = def.extract.as_ref().map(|slots| self.extract(state, slots));
        let system = def.system.as_ref().map(|s| self.template(&p("system"), s));
        let prompt = match (&def.prompt, &def.extract) {
            (Some(prompt), _) => self.template(&p("prompt"), prompt),
            (None, Some(_)) => self.template(&p("prompt"), DEFAULT_EXTRACT_PROMPT),
            (None, None) => {
                self.out.push(
                    Diagnostic::error(
                        "missing-field",
                        pointer(&["states", state, "llm"]),
                        "missing required field `prompt`",
                    )
                    .with_hint("`prompt` may only be left out when `extract` is set"),
                );
                None
            }
        };
        Some(Llm {
            system: system.map_or(Some(None), |s| s.map(Some))?,
            prompt: prompt?,
            history: def.history.map_or(DEFAULT_HISTORY, |h| h as usize),
            max_tokens: def.max_tokens,
            temperature: def.temperature.map(|t| t as f32),
            model: def.model.clone().filter(|m| !m.trim().is_empty()),
            save_as: def.save_as.clone(),
            extract: extract.map_or(Some(None), |e| e.map(Some))?,
            on_error: def.on_error.clone(),
            on_budget: def.on_budget.clone(),
            knowledge: knowledge?,
        })
    }

    /// Checks the `extract` list and builds its schema.
    fn extract(&mut self, state: &str, slots: &[String]) -> Option<ExtractSpec> {
        let base = pointer(&["states", state, "llm", "extract"]);
        let before = self.errors();
        if slots.is_empty() {
            self.out.push(
                Diagnostic::error("invalid-extract", base.clone(), "`extract` lists no slots")
                    .with_hint("list the slots to fill, e.g. `extract: [name, email]`"),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, slot) in slots.iter().enumerate() {
            let ptr = format!("{base}/{i}");
            if !seen.insert(slot.as_str()) {
                self.out.push(Diagnostic::error(
                    "invalid-extract",
                    ptr,
                    format!("`extract` lists slot `{slot}` twice"),
                ));
            } else {
                self.slot_ref(&ptr, slot, "extract");
            }
        }
        let types: Vec<_> = slots
            .iter()
            .filter_map(|s| self.slot_types.get(s).map(|t| (s.as_str(), t)))
            .collect();
        (self.errors() == before && types.len() == slots.len()).then(|| ExtractSpec {
            slots: slots.to_vec(),
            schema: extract_schema(types),
        })
    }

    pub(super) fn call(&mut self, state: &str, def: &CallDef) -> Option<Call> {
        let p = |f: &str| pointer(&["states", state, "call", f]);
        let name = &def.adaptor;
        if !is_adaptor_name(name) {
            self.out.push(
                Diagnostic::error(
                    "invalid-adaptor-name",
                    p("adaptor"),
                    format!("invalid adaptor name `{name}`"),
                )
                .with_hint("use 1 to 64 characters from A-Z, a-z, 0-9, `_`, `.` and `-`"),
            );
        } else if let Some(known) = self.adaptors
            && !known.contains(name)
        {
            let hint = did_you_mean(name, known.iter().map(String::as_str)).unwrap_or_else(|| {
                if known.is_empty() {
                    "no adaptors are configured for this tenant".to_owned()
                } else {
                    let names: Vec<&str> = known.iter().map(String::as_str).collect();
                    format!("configured adaptors: {}", names.join(", "))
                }
            });
            self.out.push(
                Diagnostic::error(
                    "unknown-adaptor",
                    p("adaptor"),
                    format!("unknown adaptor `{name}`"),
                )
                .with_hint(hint),
            );
        }
        if let Some(slot) = &def.save_as {
            self.typed_slot(
                &p("save_as"),
                slot,
                SlotKind::Object,
                "the adaptor's result is a JSON object",
            );
        }
        if let Some(ms) = def.timeout_ms
            && !(1..=MAX_TIMEOUT_MS).contains(&ms)
        {
            self.out.push(Diagnostic::error(
                "invalid-timeout",
                p("timeout_ms"),
                format!("`timeout_ms` must be between 1 and {MAX_TIMEOUT_MS}, got {ms}"),
            ));
        }
        if let Some(target) = &def.on_error {
            self.target(&p("on_error"), target, "on_error");
        }
        let mut args = Vec::new();
        for (key, source) in &def.args {
            let ptr = pointer(&["states", state, "call", "args", key]);
            if key.trim().is_empty() {
                self.out.push(Diagnostic::error(
                    "invalid-call-arg",
                    ptr.clone(),
                    "adaptor argument names cannot be blank",
                ));
            }
            if let Some(template) = self.template(&ptr, source) {
                args.push((key.clone(), template));
            }
        }
        (args.len() == def.args.len()).then(|| Call {
            adaptor: name.clone(),
            args,
            save_as: def.save_as.clone(),
            timeout_ms: def.timeout_ms,
            on_error: def.on_error.clone(),
        })
    }

    pub(super) fn handoff(&mut self, state: &str, def: &HandoffDef) -> Option<Handoff> {
        let p = |f: &str| pointer(&["states", state, "handoff", f]);
        if !is_plain_name(&def.queue) {
            self.out.push(
                Diagnostic::error(
                    "invalid-queue",
                    p("queue"),
                    format!("invalid queue name `{}`", def.queue),
                )
                .with_hint("use 1 to 64 characters from a-z, 0-9, `_` and `-`"),
            );
        }
        let message = match def.message.as_deref().filter(|m| !m.trim().is_empty()) {
            Some(text) => Some(self.template(&p("message"), text)?),
            None => None,
        };
        Some(Handoff {
            queue: def.queue.clone(),
            message,
        })
    }

    /// Checks that `slot` is declared with type `kind` (for `save_as`).
    fn typed_slot(&mut self, ptr: &str, slot: &str, kind: SlotKind, why: &str) {
        let declared = self.slot_ref(ptr, slot, "save_as");
        let actual = self.slot_defs.get(slot).map(|s| s.kind);
        if declared && actual != Some(kind) {
            let type_name = kind.name();
            self.out.push(
                Diagnostic::error(
                    "save-as-type",
                    ptr,
                    format!("`save_as` slot `{slot}` must be of type {type_name}"),
                )
                .with_hint(why),
            );
        }
    }
}
