//! Diagnostics tests for parsing and flow-level checks (syntax, fields,
//! duplicates, id, start, slot declarations): one test per code, asserting
//! code, pointer and position.

use crate::dialog::fixtures::{DEMO, FILE, assert_at, flow, only, pos_of};
use crate::dialog::{Severity, check, compile};

#[test]
fn demo_is_clean_and_renders_nothing() {
    let flow = compile("demo.yaml", DEMO).expect("demo compiles");
    assert!(flow.warnings().is_empty(), "{:?}", flow.warnings());
    assert!(check("demo.yaml", DEMO).is_empty());
}

#[test]
fn unknown_state_with_hint_renders_like_rustc() {
    let src = DEMO.replace("then: billing_info", "then: billing_inf");
    let d = only(&src, "unknown-state");
    assert_at(
        &d,
        "/states/ask_topic/next/0/then",
        pos_of(&src, "billing_inf\n"),
    );
    assert_eq!(d.state.as_deref(), Some("ask_topic"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `billing_info`?"));
    let (line, col) = (d.line.unwrap_or(0), d.column.unwrap_or(0));
    assert_eq!(
        d.to_string(),
        format!(
            "error[unknown-state]: `then` points to unknown state `billing_inf`\n  --> flows/t.yaml:{line}:{col} (/states/ask_topic/next/0/then)\n  = hint: did you mean `billing_info`?"
        )
    );
    assert!(compile(FILE, &src).is_err());
}

#[test]
fn unknown_targets_of_every_kind() {
    let src = flow(
        "",
        "  b:\n    collect: { slot: name, prompt: p, on_fail: nowhere }\n    next: [ { else: zz } ]\n  c:\n    llm: { prompt: p, on_error: elsewhere }\n    next: q\n",
    );
    let all = check(FILE, &src);
    let ptrs: Vec<&str> = all
        .iter()
        .filter(|d| d.code == "unknown-state")
        .map(|d| d.pointer.as_str())
        .collect();
    assert_eq!(
        ptrs,
        [
            "/states/b/collect/on_fail",
            "/states/b/next/0/else",
            "/states/c/llm/on_error",
            "/states/c/next"
        ]
    );
    let zz = all
        .iter()
        .find(|d| d.pointer == "/states/b/next/0/else")
        .map(|d| d.hint.clone());
    assert_eq!(zz, Some(Some("did you mean `z`?".to_owned())));
}

#[test]
fn yaml_syntax() {
    let d = only("id: t\nstates:\n  a: { say: [unclosed\n", "yaml-syntax");
    assert_eq!(d.severity, Severity::Error);
    assert!(d.line.is_some() && d.column.is_some(), "{d:?}");
}

#[test]
fn duplicate_state_and_slot_and_key() {
    let src = flow(
        "  name: { type: enum, values: [a] }\n",
        "  a:\n    say: again\n    next: z\n",
    );
    let d = only(&src, "duplicate-state");
    assert_at(&d, "/states/a", pos_of(&src, "a:\n    say: again"));
    let d = only(&src, "duplicate-slot");
    assert_at(&d, "/slots/name", pos_of(&src, "name: { type: enum"));
    let src = "id: t\nid: u\nstart: a\nstates: {}\n";
    assert_at(&only(src, "duplicate-key"), "/id", pos_of(src, "id: u"));
}

#[test]
fn unknown_field_lists_allowed_fields() {
    let src = flow("", "  b:\n    say: hi\n    nxet: z\n");
    let d = only(&src, "unknown-field");
    assert_at(&d, "/states/b/nxet", pos_of(&src, "nxet"));
    assert_eq!(
        d.hint.as_deref(),
        Some(
            "did you mean `next`? (allowed fields: say, collect, llm, set, call, handoff, end, next)"
        )
    );
}

#[test]
fn missing_field_and_invalid_type() {
    let src = "id: t\nstart: a\nstates:\n  a:\n    llm: { system: s }\n    next: a\n";
    let d = only(src, "missing-field");
    // `prompt` is optional for `extract` states, so the compiler (not
    // serde) reports it, at the `llm` key.
    assert_at(&d, "/states/a/llm", pos_of(src, "llm:"));
    assert_eq!(d.message, "missing required field `prompt`");
    let src = "id: t\nstart: a\nstates:\n  a:\n    collect: { prompt: s }\n    next: a\n";
    let d = only(src, "missing-field");
    // serde-saphyr reports the first key of the map; the pointer names the map.
    assert_at(&d, "/states/a/collect", pos_of(src, "prompt: s"));
    assert_eq!(d.message, "missing required field `slot`");
    let src = flow(
        "",
        "  b:\n    llm: { prompt: p, history: plenty }\n    next: z\n",
    );
    assert_at(
        &only(&src, "invalid-type"),
        "/states/b/llm/history",
        pos_of(&src, "plenty"),
    );
}

#[test]
fn unknown_slot_type() {
    let src = flow("  age: { type: integr }\n", "");
    let d = only(&src, "unknown-slot-type");
    assert_at(&d, "/slots/age/type", pos_of(&src, "integr"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `integer`?"));
}

#[test]
fn invalid_flow_id() {
    let src = flow("", "").replace("id: t", "id: Bad Id");
    assert_at(
        &only(&src, "invalid-flow-id"),
        "/id",
        pos_of(&src, "Bad Id"),
    );
}

#[test]
fn missing_and_unknown_start() {
    let src = flow("", "").replace("start: a\n", "");
    let d = only(&src, "missing-start");
    assert_eq!((d.pointer.as_str(), d.line), ("", None));
    assert_eq!(
        d.hint.as_deref(),
        Some("add `start: a` (or whichever state comes first)")
    );
    let src = flow("", "").replace("start: a", "start: A");
    let d = only(&src, "unknown-start");
    assert_at(&d, "/start", pos_of(&src, "A\n"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `a`?"));
}

#[test]
fn slot_name_checks() {
    let src = flow("  input: { type: string }\n  2fast: { type: string }\n", "");
    let d = only(&src, "reserved-slot-name");
    assert_at(&d, "/slots/input", pos_of(&src, "input:"));
    assert_at(
        &only(&src, "invalid-slot-name"),
        "/slots/2fast",
        pos_of(&src, "2fast"),
    );
}

#[test]
fn slot_config_checks() {
    let src = flow(
        "  en_empty: { type: enum }\n  en_dup: { type: enum, values: [A, a, ''] }\n  rx_bad: { type: regex, pattern: '([a-z' }\n  rx_none: { type: regex }\n  num: { type: integer, min: 5, max: 1 }\n  flag: { type: boolean, max_length: 3 }\n",
        "",
    );
    assert_at(
        &only(&src, "enum-without-values"),
        "/slots/en_empty",
        pos_of(&src, "en_empty"),
    );
    let all = check(FILE, &src);
    let enum_values: Vec<&str> = all
        .iter()
        .filter(|d| d.code == "invalid-enum-value")
        .map(|d| d.pointer.as_str())
        .collect();
    assert_eq!(
        enum_values,
        ["/slots/en_dup/values/1", "/slots/en_dup/values/2"]
    );
    let d = only(&src, "invalid-regex");
    assert_at(&d, "/slots/rx_bad/pattern", pos_of(&src, "'([a-z'"));
    assert!(
        d.message
            .starts_with("slot `rx_bad`: invalid regex pattern: regex parse error"),
        "{}",
        d.message
    );
    assert_at(
        &only(&src, "missing-pattern"),
        "/slots/rx_none",
        pos_of(&src, "rx_none"),
    );
    assert_at(
        &only(&src, "invalid-range"),
        "/slots/num/min",
        pos_of(&src, "5,"),
    );
    let d = only(&src, "slot-option-not-applicable");
    assert_at(&d, "/slots/flag/max_length", pos_of(&src, "3 }"));
    assert_eq!(d.hint.as_deref(), Some("`boolean` slots take no options"));
}

#[test]
fn yaml_limit() {
    let deep = format!("{}x{}", "[".repeat(20), "]".repeat(20));
    let src = format!("id: t\nstart: a\nstates:\n  a: {{ say: {deep} }}\n");
    let d = only(&src, "yaml-limit");
    assert_eq!(d.pointer, "");
    assert_eq!(d.line, Some(4), "{d:?}");
    assert!(
        d.message.starts_with("YAML exceeds a safety limit"),
        "{}",
        d.message
    );
    let recursive = "id: t\nstart: a\nstates:\n  a: &x { say: hi, next: *x }\n";
    assert_eq!(only(recursive, "yaml-limit").line, Some(4));
}

/// Issue 18, defect 7: nested aliases that replay 111,110 events (the crate's
/// default allows a million) are refused by the alias budget, before the typed
/// parse spends time and memory on them.
#[test]
fn nested_aliases_hit_the_alias_budget() {
    let mut src = String::from("id: t\nstart: a\nx0: &x0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..=4 {
        let refs = vec![format!("*x{}", level - 1); 10].join(", ");
        src.push_str(&format!("x{level}: &x{level} [{refs}]\n"));
    }
    src.push_str("states:\n  a: { end: bye }\n");
    let d = only(&src, "yaml-limit");
    assert!(d.message.contains("alias"), "{}", d.message);
}

fn chain(n: usize, last: &str) -> String {
    let mut src = String::from("id: chain\nstart: s0\nstates:\n");
    for i in 0..n {
        src.push_str(&format!(
            "  s{i}:\n    say: \"step {i}\"\n    next: s{}\n",
            i + 1
        ));
    }
    src.push_str(&format!("  s{n}:\n    {last}\n"));
    src
}

/// Issue 18, defect 7: a valid chain of 8,000 `say` states (about the
/// largest that fits the admin body limit) compiles; the graph checks were
/// quadratic and took a minute and 2.7 GB on it.
#[test]
fn a_chain_of_8000_say_states_compiles() {
    let src = chain(8_000, "end: done");
    let flow = compile(FILE, &src).expect("the chain compiles");
    assert!(flow.warnings().is_empty(), "{:?}", flow.warnings());
}

/// The same chain closed into a loop is one input-free cycle, reported once,
/// at its first state.
#[test]
fn a_loop_of_8000_say_states_is_one_input_free_cycle() {
    let mut src = chain(8_000, "say: last\n    next: s0");
    src.push_str("  out:\n    end: done\n");
    src = src.replace(
        "  s0:\n    say: \"step 0\"\n    next: s1\n",
        "  s0:\n    say: \"step 0\"\n    next: [ { if: \"false\", then: out }, { else: s1 } ]\n",
    );
    let diagnostics = check(FILE, &src);
    let cycles: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.code == "input-free-cycle")
        .collect();
    assert_eq!(cycles.len(), 1, "{diagnostics:?}");
    assert_eq!(cycles[0].pointer, "/states/s0");
}

/// Issue 18, defect 2: a NUL in a flow (a YAML `\0` escape) would reach the store in
/// every conversation's messages, which PostgreSQL refuses; the compiler refuses it first.
#[test]
fn nul_in_a_flow_is_an_error() {
    let src = "id: t\nstart: a\nstates:\n  a: { end: \"bye\\0now\" }\n";
    let d = only(src, "nul-character");
    assert!(d.message.contains("U+0000"), "{}", d.message);
    assert!(compile(FILE, src).is_err());
}
