//! The JSON Schema (draft 2020-12) of the flow format, for editors and for
//! `GET /v1/schemas/flow.json`.
//!
//! Written by hand rather than derived, because the rules worth telling an
//! editor are cross-field ones serde does not know: exactly one action per
//! state, `next` required except for `end`/`handoff`, slot options per type,
//! `prompt` optional only with `extract`, `match` xor `when`. Tables shared
//! with the compiler (slot types, options per type, reserved names, name
//! patterns, limits) are taken from the compiler's own constants, and
//! `schema_tests.rs` validates every fixture, example and golden input
//! against it. The schema is a lint, not the compiler: it cannot see
//! unknown states, slots or CEL/template errors, and YAML scalars such as
//! `say: 42` compile (as text) although the schema asks for strings.

use serde_json::{Value, json};

use crate::dialog::definition::SlotKind;
use crate::dialog::extract::DRAFT_2020_12;
use crate::dialog::lower_io::MAX_TIMEOUT_MS;
use crate::dialog::slot_config::{RESERVED_NAMES, options_of};

/// `[a-z0-9_-]{1,64}`: flow ids and handoff queues.
const PLAIN_NAME: &str = "^[a-z0-9_-]{1,64}$";

/// The JSON Schema of a flow document.
pub fn flow_json_schema() -> Value {
    json!({
        "$schema": DRAFT_2020_12,
        "title": "Switchboard flow",
        "description": "A dialog flow: typed slots and states linked by `next`. YAML flow files use the same structure.",
        "type": "object",
        "required": ["id", "start", "states"],
        "additionalProperties": false,
        "properties": {
            "id": {
                "description": "Flow id, unique per tenant.",
                "type": "string",
                "pattern": PLAIN_NAME,
            },
            "description": { "type": "string" },
            "slots": {
                "description": "Typed variables, filled by `collect`, `set`, `call` and `llm` states.",
                "type": "object",
                "propertyNames": { "$ref": "#/$defs/slotName" },
                "additionalProperties": { "$ref": "#/$defs/slot" },
            },
            "start": {
                "description": "The first state.",
                "$ref": "#/$defs/stateName",
            },
            "states": {
                "type": "object",
                "propertyNames": { "$ref": "#/$defs/stateName" },
                "additionalProperties": { "$ref": "#/$defs/state" },
            },
            "interrupts": {
                "description": "Checked in order on every answer to a `collect`, before validation; the first match jumps to `goto`.",
                "type": "array",
                "items": { "$ref": "#/$defs/interrupt" },
            },
            "idle": {
                "description": "An abandoned conversation ends after this long without an answer to a `collect` that has no `timeout` of its own: `30m`, `24h`, `7d` (1s to 30d).",
                "type": "string",
                "pattern": "^[0-9]+[smhd]$",
            },
            "whatsapp_template": {
                "description": "The approved WhatsApp template a timer sends instead of its messages when the user last wrote more than 24 hours ago; without one such messages are not sent.",
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "language"],
                "properties": {
                    "name": { "type": "string", "pattern": "^[a-z0-9_]{1,512}$" },
                    "language": { "type": "string", "pattern": "^[a-z]{2}(_[A-Z]{2})?$" },
                },
            },
        },
        "$defs": {
            "stateName": { "type": "string", "minLength": 1 },
            "slotName": {
                "type": "string",
                "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                "not": { "enum": RESERVED_NAMES },
            },
            "template": {
                "description": "Text with minijinja `{{ slot }}` / `{% if %}` templating; `input` is the latest user message.",
                "type": "string",
            },
            "cel": {
                "description": "A CEL expression over the slots and `input`.",
                "type": "string",
            },
            "count": { "type": "integer", "minimum": 0, "maximum": u32::MAX },
            "slot": slot(),
            "state": state(),
            "collect": {
                "type": "object",
                "required": ["slot", "prompt"],
                "additionalProperties": false,
                "properties": {
                    "slot": { "$ref": "#/$defs/slotName" },
                    "prompt": { "$ref": "#/$defs/template" },
                    "reprompt": { "$ref": "#/$defs/template" },
                    "max_attempts": { "type": "integer", "minimum": 1, "maximum": u32::MAX },
                    "on_fail": { "$ref": "#/$defs/stateName" },
                    "timeout": {
                        "description": "How long to wait for an answer before `on_timeout`: a whole number and a unit, `90s`, `10m`, `2h` or `1d` (1s to 30d).",
                        "type": "string",
                        "pattern": "^[0-9]+[smhd]$",
                    },
                    "on_timeout": { "$ref": "#/$defs/stateName" },
                },
            },
            "llm": {
                "description": "A streamed LLM reply (`prompt`, optional `save_as`), or structured extraction into the slots listed in `extract`.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "system": { "$ref": "#/$defs/template" },
                    "prompt": { "$ref": "#/$defs/template" },
                    "extract": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": true,
                        "items": { "$ref": "#/$defs/slotName" },
                    },
                    "history": { "$ref": "#/$defs/count" },
                    "max_tokens": { "$ref": "#/$defs/count" },
                    "temperature": { "type": "number", "minimum": 0, "maximum": 2 },
                    "model": {
                        "description": "A route of the gateway, a provider:model, or a model; overrides the tenant's model.",
                        "type": "string",
                        "minLength": 1,
                    },
                    "save_as": { "$ref": "#/$defs/slotName" },
                    "on_error": { "$ref": "#/$defs/stateName" },
                    "on_budget": {
                        "description": "Where to go when the tenant's model budget stops the call (else a handoff to the `budget` queue).",
                        "$ref": "#/$defs/stateName",
                    },
                    "knowledge": {
                        "description": "Knowledge bases of the tenant the reply answers from, with citations.",
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 8,
                        "uniqueItems": true,
                        "items": { "type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,79}$" },
                    },
                    "min_score": {
                        "description": "The best chunk's similarity (0 to 1) below which the knowledge bases hold no answer; default 0.2.",
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1,
                    },
                    "top_k": {
                        "description": "How many chunks go into the prompt; default 4.",
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 20,
                    },
                    "on_no_answer": {
                        "description": "Where to go when the knowledge bases hold no answer (for example a handoff).",
                        "$ref": "#/$defs/stateName",
                    },
                    "query": {
                        "description": "What to search the knowledge bases for: a template over the slots and `input`; default the user's latest message.",
                        "type": "string",
                        "minLength": 1,
                    },
                },
                "anyOf": [{ "required": ["prompt"] }, { "required": ["extract"] }],
                "not": { "required": ["extract", "save_as"] },
            },
            "call": {
                "description": "Calls a tenant-configured HTTP adaptor; `on_error` (else `next`) on failure.",
                "type": "object",
                "required": ["adaptor"],
                "additionalProperties": false,
                "properties": {
                    "adaptor": { "type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$" },
                    "args": {
                        "type": "object",
                        "additionalProperties": { "$ref": "#/$defs/template" },
                    },
                    "save_as": {
                        "description": "An `object` slot receiving the result.",
                        "$ref": "#/$defs/slotName",
                    },
                    "timeout_ms": { "type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_MS },
                    "on_error": { "$ref": "#/$defs/stateName" },
                },
            },
            "handoff": {
                "description": "Hands the conversation to a human agent queue; the flow resumes at `next` (or ends) when released.",
                "type": "object",
                "required": ["queue"],
                "additionalProperties": false,
                "properties": {
                    "queue": { "type": "string", "pattern": PLAIN_NAME },
                    "message": { "$ref": "#/$defs/template" },
                },
            },
            "next": {
                "description": "A state name, or `if`/`then` branches ending in one `else`.",
                "oneOf": [
                    { "$ref": "#/$defs/stateName" },
                    {
                        "type": "array",
                        "minItems": 1,
                        "items": { "$ref": "#/$defs/branch" },
                        "contains": { "required": ["else"] },
                        "minContains": 1,
                        "maxContains": 1,
                    },
                ],
            },
            "branch": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["if", "then"],
                        "additionalProperties": false,
                        "properties": {
                            "if": { "$ref": "#/$defs/cel" },
                            "then": { "$ref": "#/$defs/stateName" },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["else"],
                        "additionalProperties": false,
                        "properties": { "else": { "$ref": "#/$defs/stateName" } },
                    },
                ],
            },
            "interrupt": {
                "type": "object",
                "required": ["goto"],
                "additionalProperties": false,
                "properties": {
                    "match": {
                        "description": "Phrases matched case-insensitively against the whole trimmed message.",
                        "type": "array",
                        "minItems": 1,
                        "items": { "type": "string", "pattern": "\\S" },
                    },
                    "when": { "$ref": "#/$defs/cel" },
                    "goto": { "$ref": "#/$defs/stateName" },
                },
                "oneOf": [{ "required": ["match"] }, { "required": ["when"] }],
            },
        },
    })
}

/// A slot declaration: the options allowed depend on `type`.
fn slot() -> Value {
    let kinds: Vec<&str> = SlotKind::ALL.iter().map(|k| k.name()).collect();
    let per_kind: Vec<Value> = SlotKind::ALL
        .iter()
        .map(|kind| {
            let mut allowed = vec!["type"];
            allowed.extend_from_slice(options_of(*kind));
            let required: &[&str] = match kind {
                SlotKind::Enum => &["values"],
                SlotKind::Regex => &["pattern"],
                _ => &[],
            };
            let then = json!({
                "propertyNames": { "enum": allowed },
                "required": required,
            });
            json!({
                "if": { "properties": { "type": { "const": kind.name() } } },
                "then": then,
            })
        })
        .collect();
    json!({
        "type": "object",
        "required": ["type"],
        "additionalProperties": false,
        "properties": {
            "type": { "enum": kinds },
            "min_length": { "$ref": "#/$defs/count" },
            "max_length": { "$ref": "#/$defs/count" },
            "values": {
                "type": "array",
                "minItems": 1,
                "items": { "type": "string", "pattern": "\\S" },
            },
            "min": { "type": "number" },
            "max": { "type": "number" },
            "pattern": { "type": "string", "format": "regex" },
        },
        "allOf": per_kind,
    })
}

/// A state: exactly one action, `next` unless it ends or hands off.
fn state() -> Value {
    const ACTIONS: [&str; 7] = ["say", "collect", "llm", "set", "call", "handoff", "end"];
    let one_action: Vec<Value> = ACTIONS.iter().map(|a| json!({ "required": [a] })).collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "say": { "$ref": "#/$defs/template" },
            "collect": { "$ref": "#/$defs/collect" },
            "llm": { "$ref": "#/$defs/llm" },
            "set": {
                "description": "Slot → CEL expression; all are evaluated before any is assigned.",
                "type": "object",
                "propertyNames": { "$ref": "#/$defs/slotName" },
                "additionalProperties": { "$ref": "#/$defs/cel" },
            },
            "call": { "$ref": "#/$defs/call" },
            "handoff": { "$ref": "#/$defs/handoff" },
            "end": {
                "description": "Ends the conversation, saying the text (if any).",
                "anyOf": [{ "$ref": "#/$defs/template" }, { "type": "null" }],
            },
            "next": { "$ref": "#/$defs/next" },
        },
        "oneOf": one_action,
        "allOf": [
            {
                "if": { "required": ["end"] },
                "then": { "not": { "required": ["next"] } },
            },
            {
                "if": { "not": { "anyOf": [{ "required": ["end"] }, { "required": ["handoff"] }] } },
                "then": { "required": ["next"] },
            },
        ],
    })
}
