//! Diagnostics tests for state-level and graph checks (actions, branches,
//! references, templates, CEL, `set`, reachability, termination, cycles),
//! plus the content hash and hostile-input robustness.

use crate::dialog::fixtures::{DEMO, FILE, assert_at, flow, only, pos_of};
use crate::dialog::{Severity, check, compile};

#[test]
fn action_count_and_next_rules() {
    let src = flow(
        "",
        "  none:\n    next: z\n  both:\n    say: hi\n    end: bye\n  nonext:\n    say: hi\n",
    );
    assert_at(
        &only(&src, "missing-action"),
        "/states/none",
        pos_of(&src, "none:"),
    );
    let d = only(&src, "multiple-actions");
    assert_at(&d, "/states/both/end", pos_of(&src, "bye\n  nonext"));
    assert!(d.message.ends_with("say, end"), "{}", d.message);
    assert_at(
        &only(&src, "missing-next"),
        "/states/nonext",
        pos_of(&src, "nonext:"),
    );
    let src = flow("", "").replace(
        "    end: bye\n",
        "    end: bye\n    next: [ { else: a } ]\n",
    );
    assert_at(
        &only(&src, "end-with-next"),
        "/states/z/next",
        pos_of(&src, "next: [ { else: a"),
    );
}

#[test]
fn branch_shape() {
    let src = flow(
        "",
        "  b:\n    say: hi\n    next:\n      - else: z\n      - if: 'true'\n        then: z\n",
    );
    let all = check(FILE, &src);
    let shapes: Vec<(&str, &str)> = all
        .iter()
        .filter(|d| d.code == "invalid-branches")
        .map(|d| (d.pointer.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        shapes,
        [
            ("/states/b/next/0", "`else` must be the last branch"),
            (
                "/states/b/next/1",
                "the branch list must end with an `else` entry"
            ),
        ]
    );
    assert_eq!((all[0].line, all[0].column), pos_of(&src, "else: z"));
    let src = flow("", "  b:\n    say: hi\n    next: []\n");
    // Collections are located at their key.
    assert_at(
        &only(&src, "invalid-branches"),
        "/states/b/next",
        pos_of(&src, "next: []"),
    );
}

#[test]
fn undeclared_slots() {
    let src = flow(
        "",
        "  b:\n    collect: { slot: nmae, prompt: p }\n    next: z\n  c:\n    set: { ghost: '1' }\n    next: z\n",
    );
    let all = check(FILE, &src);
    let slots: Vec<(&str, Option<&str>)> = all
        .iter()
        .filter(|d| d.code == "unknown-slot")
        .map(|d| (d.pointer.as_str(), d.hint.as_deref()))
        .collect();
    assert_eq!(
        slots,
        [
            ("/states/b/collect/slot", Some("did you mean `name`?")),
            (
                "/states/c/set/ghost",
                Some("declare it under `slots:`, e.g. `ghost: { type: string }`")
            ),
        ]
    );
    assert_eq!((all[0].line, all[0].column), pos_of(&src, "nmae"));
}

#[test]
fn llm_option_checks() {
    let src = flow(
        "  n: { type: integer }\n",
        "  b:\n    llm: { prompt: p, save_as: n, temperature: 3.5 }\n    next: z\n",
    );
    assert_at(
        &only(&src, "save-as-type"),
        "/states/b/llm/save_as",
        pos_of(&src, "n, temp"),
    );
    assert_at(
        &only(&src, "invalid-temperature"),
        "/states/b/llm/temperature",
        pos_of(&src, "3.5"),
    );
    let src = flow(
        "",
        "  b:\n    collect: { slot: name, prompt: p, max_attempts: 0 }\n    next: z\n",
    );
    assert_at(
        &only(&src, "invalid-max-attempts"),
        "/states/b/collect/max_attempts",
        pos_of(&src, "0 }"),
    );
}

#[test]
fn template_checks() {
    let src = flow(
        "",
        "  b:\n    say: 'Hi {{ name '\n    next: c\n  c:\n    say: 'Hi {{ nme }}'\n    next: z\n",
    );
    let d = only(&src, "template-syntax");
    assert_at(&d, "/states/b/say", pos_of(&src, "'Hi {{ name '"));
    assert!(
        d.message.starts_with("template syntax error: "),
        "{}",
        d.message
    );
    let d = only(&src, "undeclared-variable");
    assert_at(&d, "/states/c/say", pos_of(&src, "'Hi {{ nme }}'"));
    assert_eq!(d.message, "template uses undeclared variable `nme`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `name`?"));
    let deep = format!("{}1{}", "(".repeat(40), ")".repeat(40));
    let src = flow(
        "",
        &format!("  b:\n    say: '{{{{ {deep} }}}}'\n    next: z\n"),
    );
    assert_at(
        &only(&src, "template-too-complex"),
        "/states/b/say",
        pos_of(&src, "'{{"),
    );
}

#[test]
fn cel_checks() {
    let src = flow(
        "",
        "  b:\n    say: hi\n    next:\n      - if: 'name =='\n        then: z\n      - if: 'nam == \"x\"'\n        then: z\n      - else: z\n",
    );
    let d = only(&src, "cel-syntax");
    assert_at(&d, "/states/b/next/0/if", pos_of(&src, "'name =='"));
    assert!(
        d.message.starts_with("CEL syntax error in `name ==`"),
        "{}",
        d.message
    );
    let d = only(&src, "undeclared-variable");
    assert_at(&d, "/states/b/next/1/if", pos_of(&src, "'nam =="));
    assert_eq!(d.hint.as_deref(), Some("did you mean `name`?"));
    let deep = format!("{}1{}", "(".repeat(20), ")".repeat(20));
    let src = flow(
        "",
        &format!(
            "  b:\n    say: hi\n    next: [ {{ if: '{deep} == 1', then: z }}, {{ else: z }} ]\n"
        ),
    );
    assert_at(
        &only(&src, "expr-too-complex"),
        "/states/b/next/0/if",
        pos_of(&src, "'(("),
    );
}

#[test]
fn set_constant_mismatch() {
    let src = flow(
        "  age: { type: integer, min: 0 }\n",
        "  b:\n    set: { age: '\"old\"', name: '\"Ada\"' }\n    next: z\n",
    );
    let d = only(&src, "set-type-mismatch");
    assert_at(&d, "/states/b/set/age", pos_of(&src, "'\"old\"'"));
    assert_eq!(
        d.message,
        "`\"old\"` does not fit integer slot `age`: a string value cannot be stored in an integer slot"
    );
}

#[test]
fn graph_checks() {
    // Unreachable (warning only: compile still succeeds).
    let src = flow("", "  lost:\n    say: hi\n    next: z\n");
    let d = only(&src, "unreachable-state");
    assert_eq!(d.severity, Severity::Warning);
    assert_at(&d, "/states/lost", pos_of(&src, "lost:"));
    let compiled = compile(FILE, &src).expect("warnings do not fail");
    assert_eq!(compiled.warnings().len(), 1);

    // A loop through collect without any way to the end.
    let src = "id: t\nslots:\n  name: { type: string }\nstart: a\nstates:\n  a:\n    collect: { slot: name, prompt: p }\n    next: b\n  b:\n    say: again\n    next: a\n  z:\n    end: bye\n";
    let all = check(FILE, src);
    let ends: Vec<&str> = all
        .iter()
        .filter(|d| d.code == "no-end-reachable")
        .map(|d| d.pointer.as_str())
        .collect();
    assert_eq!(ends, ["/states/a", "/states/b"]);
    let first = all
        .iter()
        .find(|d| d.code == "no-end-reachable")
        .map(|d| d.message.clone());
    assert_eq!(
        first.as_deref(),
        Some(
            "flow can loop forever without ending: no `end` or `handoff` state is reachable from `a`"
        )
    );
    // Without any `end` state at all there is a single error.
    let no_end = src.replace("  z:\n    end: bye\n", "");
    let d = only(&no_end, "no-end-reachable");
    assert_at(&d, "/states", pos_of(&no_end, "states:"));

    // say/set cycle that never waits for input.
    let src = flow("", "  b:\n    say: hi\n    next: c\n  c:\n    set: { name: '\"x\"' }\n    next: [ { if: 'input == \"\"', then: b }, { else: z } ]\n").replace("next: z\n  b:", "next: b\n  b:");
    let d = only(&src, "input-free-cycle");
    assert_at(&d, "/states/b", pos_of(&src, "b:\n    say"));
    assert!(d.message.contains("`b`, `c`"), "{}", d.message);
}

#[test]
fn content_hash_ignores_formatting_and_key_order() {
    let a = compile("a.yaml", DEMO).expect("compiles");
    let reordered = "# same flow, different layout\nstart: greet\nstates:\n  goodbye: { end: \"Thanks{% if name %} {{ name }}{% endif %}, bye!\" }\n"
        .to_owned()
        + &DEMO.split("states:\n").nth(1).unwrap_or_default().replace(
            "  goodbye:\n    end: \"Thanks{% if name %} {{ name }}{% endif %}, bye!\"\n",
            "",
        )
        .lines()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + &DEMO.split("start: greet\n").next().unwrap_or_default().replace("id: demo\n", "")
        + "id: demo\n";
    let b = compile("b.yaml", &reordered).expect("reordered compiles");
    assert_eq!(a.content_hash(), b.content_hash());
    assert_eq!(a.content_hash().len(), 64);
    assert_eq!(a.definition_json(), b.definition_json());
    let changed = compile("c.yaml", &DEMO.replace("Hi! I'm", "Hello! I'm")).expect("compiles");
    assert_ne!(a.content_hash(), changed.content_hash());
    assert_eq!(a.definition_json()["states"]["greet"]["next"], "ask_name");
}

#[test]
fn hostile_inputs_do_not_panic() {
    let deep_yaml = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    for src in [
        "",
        "~",
        "[]",
        "42",
        "id: t\nstates: 3\n",
        &deep_yaml,
        "id: t\nstates:\n  a: &x { say: hi, next: *x }\n",
        "\u{feff}id: t",
        "id: t\n---\nid: u\n",
    ] {
        let diags = check(FILE, src);
        assert!(diags.iter().any(|d| d.is_error()), "{src:?} → {diags:?}");
    }
}
