//! Tests for the hand-written JSON Schema of the format: it is a valid
//! draft 2020-12 schema, it lists exactly the fields serde accepts, every
//! shipped flow validates against it, and typical mistakes do not.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::dialog::definition::{
    BranchDef, CallDef, CollectDef, FlowDef, HandoffDef, InterruptDef, LlmDef, SlotDef, StateDef,
};
use crate::dialog::examples_tests::example_source;
use crate::dialog::extract::extract_schema;
use crate::dialog::fixtures::DEMO;
use crate::dialog::{SlotType, flow_json_schema};

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&flow_json_schema()).expect("schema compiles")
}

fn yaml(src: &str) -> Value {
    serde_saphyr::from_str::<Value>(src).expect("test YAML parses")
}

/// Validation errors as "pointer: message" lines.
fn errors(src: &str) -> Vec<String> {
    let instance = yaml(src);
    validator()
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The field names serde accepts for `T`, read from its unknown-field error.
fn serde_fields<T: DeserializeOwned>() -> BTreeSet<String> {
    let Err(err) = serde_json::from_value::<T>(json!({ "__unknown__": 1 })) else {
        panic!("unknown field accepted");
    };
    let message = err.to_string();
    let expected = message.split("expected").nth(1).unwrap_or_default();
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn schema_fields(schema: &Value, path: &str) -> BTreeSet<String> {
    let node = schema
        .pointer(path)
        .unwrap_or_else(|| panic!("{path} missing"));
    node.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn schema_is_valid_2020_12() {
    let schema = flow_json_schema();
    assert!(jsonschema::meta::is_valid(&schema));
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let t = SlotType::Email;
    assert!(jsonschema::meta::is_valid(&extract_schema([("e", &t)])));
}

#[test]
fn schema_lists_exactly_the_serde_fields() {
    let s = flow_json_schema();
    let cases = [
        ("/properties", serde_fields::<FlowDef>()),
        ("/$defs/slot/properties", serde_fields::<SlotDef>()),
        ("/$defs/state/properties", serde_fields::<StateDef>()),
        ("/$defs/collect/properties", serde_fields::<CollectDef>()),
        ("/$defs/llm/properties", serde_fields::<LlmDef>()),
        ("/$defs/call/properties", serde_fields::<CallDef>()),
        ("/$defs/handoff/properties", serde_fields::<HandoffDef>()),
        (
            "/$defs/interrupt/properties",
            serde_fields::<InterruptDef>(),
        ),
    ];
    for (path, fields) in cases {
        assert!(fields.len() > 1, "{path}: {fields:?}");
        assert_eq!(schema_fields(&s, path), fields, "{path}");
    }
    let branch: BTreeSet<String> = (0..2)
        .flat_map(|i| schema_fields(&s, &format!("/$defs/branch/oneOf/{i}/properties")))
        .collect();
    assert_eq!(branch, serde_fields::<BranchDef>());
}

#[test]
fn shipped_flows_validate() {
    let demo = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/demo.yaml"));
    let mut sources = vec![DEMO.to_owned(), demo.to_owned()];
    for name in ["support_triage", "order_status", "lead_capture"] {
        sources.push(example_source(name));
    }
    sources.push(crate::dialog::engine_io_tests::CALLS.to_owned());
    sources.push(crate::dialog::engine_io_tests::EXTRACT.to_owned());
    for src in sources {
        assert_eq!(errors(&src), Vec::<String>::new(), "{src}");
    }
}

const BASE: &str = "id: t\nslots:\n  s: { type: string }\nstart: a\nstates:\n  a:\n    collect: { slot: s, prompt: p }\n    next: z\n  z:\n    end: ~\n";

#[test]
fn every_field_at_once_validates() {
    let src = BASE.replace(
        "states:\n",
        "interrupts:\n  - match: [agent]\n    goto: h\n  - when: 'input == \"x\"'\n    goto: a\nstates:\n  l:\n    llm: { system: s, prompt: p, history: 2, max_tokens: 9, temperature: 0.5, save_as: s, on_error: z }\n    next: [ { if: 'true', then: a }, { else: z } ]\n  x:\n    llm: { extract: [s] }\n    next: z\n  c:\n    call: { adaptor: order_status, args: { k: v }, save_as: o, timeout_ms: 5, on_error: z }\n    next: z\n  h:\n    handoff: { queue: q_1, message: m }\n  st:\n    set: { s: '\"v\"' }\n    next: z\n",
    )
    .replace(
        "  s: { type: string }\n",
        "  s: { type: string, min_length: 1, max_length: 3 }\n  e: { type: enum, values: [a] }\n  n: { type: number, min: 0, max: 1 }\n  r: { type: regex, pattern: 'x' }\n  o: { type: object }\n",
    )
    .replace("collect: { slot: s, prompt: p }", "collect: { slot: s, prompt: p, reprompt: r, max_attempts: 2, on_fail: z }");
    assert_eq!(errors(&src), Vec::<String>::new());
    // And the typed definition serialises back to a valid document.
    let def: FlowDef = serde_saphyr::from_str(&src).expect("parses");
    let json = serde_json::to_value(&def).expect("serialises");
    assert!(validator().is_valid(&json));
}

#[test]
fn mistakes_are_rejected() {
    let cases = [
        (
            "two actions",
            BASE.replace("    end: ~\n", "    end: ~\n    say: hi\n"),
        ),
        ("missing next", BASE.replace("    next: z\n", "")),
        (
            "end with next",
            BASE.replace("    end: ~\n", "    end: ~\n    next: a\n"),
        ),
        (
            "unknown field",
            BASE.replace("    next: z\n", "    nxt: z\n"),
        ),
        (
            "unknown slot type",
            BASE.replace("type: string", "type: strng"),
        ),
        (
            "option of another type",
            BASE.replace("type: string", "type: string, pattern: x"),
        ),
        (
            "enum without values",
            BASE.replace("type: string", "type: enum"),
        ),
        ("reserved slot name", BASE.replace("  s: {", "  input: {")),
        ("bad flow id", BASE.replace("id: t", "id: Bad Id")),
        ("no start", BASE.replace("start: a\n", "")),
        (
            "branches without else",
            BASE.replace("next: z", "next: [ { if: 'true', then: z } ]"),
        ),
        (
            "else with if",
            BASE.replace("next: z", "next: [ { if: 'true', else: z } ]"),
        ),
        (
            "extract with save_as",
            BASE.replace(
                "collect: { slot: s, prompt: p }",
                "llm: { extract: [s], save_as: s }",
            ),
        ),
        (
            "llm without prompt",
            BASE.replace("collect: { slot: s, prompt: p }", "llm: { system: x }"),
        ),
        (
            "call timeout",
            BASE.replace(
                "collect: { slot: s, prompt: p }",
                "call: { adaptor: a, timeout_ms: 0 }",
            ),
        ),
        (
            "call without adaptor",
            BASE.replace("collect: { slot: s, prompt: p }", "call: { args: {} }"),
        ),
        (
            "bad queue",
            BASE.replace("    end: ~\n", "    handoff: { queue: Bad Queue }\n"),
        ),
        (
            "interrupt with both",
            BASE.replace(
                "states:\n",
                "interrupts:\n  - { match: [x], when: 'true', goto: a }\nstates:\n",
            ),
        ),
        (
            "interrupt with neither",
            BASE.replace("states:\n", "interrupts:\n  - { goto: a }\nstates:\n"),
        ),
        (
            "interrupt blank phrase",
            BASE.replace(
                "states:\n",
                "interrupts:\n  - { match: [' '], goto: a }\nstates:\n",
            ),
        ),
    ];
    let v = validator();
    for (what, src) in cases {
        assert!(!v.is_valid(&yaml(&src)), "{what} should be invalid:\n{src}");
    }
    assert!(v.is_valid(&yaml(BASE)));
}
