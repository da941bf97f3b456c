//! Diagnostics tests for the flow language v1 additions: `object` slots,
//! `call`, `handoff`, `llm` extraction, interrupts, the handoff-aware graph
//! checks and compile options; plus content-hash stability for v0 flows.

use crate::dialog::fixtures::{DEMO, FILE, assert_at, flow, only, pos_of, tenant_options};
use crate::dialog::{Diagnostic, check, check_with, compile, compile_with};

/// The single diagnostic with `code` when compiled for the test tenant.
fn only_with(src: &str, code: &str) -> Diagnostic {
    let all = check_with(FILE, src, &tenant_options());
    let mut hits: Vec<Diagnostic> = all.iter().filter(|d| d.code == code).cloned().collect();
    assert_eq!(hits.len(), 1, "expected one `{code}`, got: {all:#?}");
    hits.remove(0)
}

fn codes(src: &str) -> Vec<&'static str> {
    check_with(FILE, src, &tenant_options())
        .iter()
        .map(|d| d.code)
        .collect()
}

#[test]
fn v0_content_hashes_are_unchanged() {
    // Values computed by the engine before the v1 additions.
    let demo = compile("a.yaml", DEMO).expect("compiles");
    assert_eq!(
        demo.content_hash(),
        "96e16944097ee98a5f7bc51731f369855695e10fcb5b30503f2eb02680a607e0"
    );
    let shipped = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/demo.yaml"));
    let shipped = compile("demo.yaml", shipped).expect("compiles");
    assert_eq!(
        shipped.content_hash(),
        "816933cfad3bae6aec078f15ee57effeb937d56ad4a8b086c6a257ea6017c27e"
    );
}

#[test]
fn call_checks() {
    let slots = "  order: { type: object }\n";
    let ok = flow(
        slots,
        "  b:\n    call: { adaptor: order_status, args: { id: '{{ name }}' }, save_as: order, timeout_ms: 60000, on_error: z }\n    next: z\n",
    )
    .replace("next: z\n  b:", "next: b\n  b:");
    assert!(check_with(FILE, &ok, &tenant_options()).is_empty());

    let src = ok.replace("adaptor: order_status", "adaptor: order_statsu");
    let d = only_with(&src, "unknown-adaptor");
    assert_at(&d, "/states/b/call/adaptor", pos_of(&src, "order_statsu"));
    assert_eq!(d.message, "unknown adaptor `order_statsu`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `order_status`?"));
    // Without tenant knowledge there is no adaptor check.
    assert!(check(FILE, &src).is_empty());
    let src = ok.replace("adaptor: order_status", "adaptor: crm");
    assert_eq!(
        only_with(&src, "unknown-adaptor").hint.as_deref(),
        Some("configured adaptors: order_status")
    );
    let none = crate::dialog::CompileOptions {
        adaptors: Some(Default::default()),
        ..Default::default()
    };
    let d = check_with(FILE, &src, &none);
    assert_eq!(
        d[0].hint.as_deref(),
        Some("no adaptors are configured for this tenant")
    );
    let src = ok.replace("adaptor: order_status", "adaptor: 'order status'");
    assert_at(
        &only_with(&src, "invalid-adaptor-name"),
        "/states/b/call/adaptor",
        pos_of(&src, "'order status'"),
    );

    let src = ok.replace("save_as: order", "save_as: name");
    let d = only_with(&src, "save-as-type");
    assert_at(&d, "/states/b/call/save_as", pos_of(&src, "name, timeout"));
    assert_eq!(d.message, "`save_as` slot `name` must be of type object");
    let src = ok.replace("save_as: order", "save_as: ordr");
    assert_eq!(
        only_with(&src, "unknown-slot").hint.as_deref(),
        Some("did you mean `order`?")
    );

    for bad in ["0", "60001"] {
        let src = ok.replace("60000", bad);
        let d = only_with(&src, "invalid-timeout");
        assert_at(
            &d,
            "/states/b/call/timeout_ms",
            pos_of(&src, &format!("{bad},")),
        );
    }
    let src = ok.replace("on_error: z", "on_error: y");
    assert_eq!(
        only_with(&src, "unknown-state").pointer,
        "/states/b/call/on_error"
    );
    let src = ok.replace("'{{ name }}'", "'{{ nme }}'");
    assert_eq!(
        only_with(&src, "undeclared-variable").pointer,
        "/states/b/call/args/id"
    );
    let src = ok.replace("'{{ name }}'", "'{{ name '");
    assert_eq!(codes(&src), ["template-syntax"]);
    let src = ok.replace("    next: z\n  z:", "  z:");
    assert_eq!(codes(&src), ["missing-next"]);
}

#[test]
fn handoff_checks() {
    let ok = flow(
        "",
        "  b:\n    handoff: { queue: billing-2, message: 'Hi {{ name }}' }\n",
    )
    .replace(
        "next: z\n  b:",
        "next: [ { if: 'name == \"x\"', then: b }, { else: z } ]\n  b:",
    );
    // No `next` needed; and a handoff is a valid terminal without any `end`.
    assert!(
        check_with(FILE, &ok, &tenant_options()).is_empty(),
        "{:#?}",
        check(FILE, &ok)
    );
    let only_handoff = "id: t\nstart: h\nstates:\n  h:\n    handoff: { queue: q }\n";
    assert!(compile(FILE, only_handoff).is_ok());

    let src = ok.replace("billing-2", "Billing Team");
    let d = only(&src, "invalid-queue");
    assert_at(&d, "/states/b/handoff/queue", pos_of(&src, "Billing Team"));
    assert_eq!(d.message, "invalid queue name `Billing Team`");
    let src = ok.replace("{{ name }}", "{{ nam }}");
    assert_eq!(
        only(&src, "undeclared-variable").pointer,
        "/states/b/handoff/message"
    );
    let src = ok.replace("'Hi {{ name }}' }", "'Hi' }\n    next: nowhere");
    assert_eq!(only(&src, "unknown-state").pointer, "/states/b/next");
}

#[test]
fn extract_checks() {
    let slots =
        "  email: { type: email }\n  size: { type: integer, min: 1 }\n  raw: { type: string }\n";
    let ok = flow(
        slots,
        "  b:\n    llm: { extract: [name, email, size] }\n    next: z\n",
    )
    .replace("next: z\n  b:", "next: b\n  b:");
    let flow_ok = compile_with(FILE, &ok, &tenant_options()).expect("compiles");
    assert!(flow_ok.warnings().is_empty());

    let src = ok.replace("extract: [name, email, size]", "extract: [name, emial]");
    let d = only(&src, "unknown-slot");
    assert_at(&d, "/states/b/llm/extract/1", pos_of(&src, "emial"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `email`?"));
    let src = ok.replace("[name, email, size]", "[name, email, name]");
    let d = only(&src, "invalid-extract");
    assert_eq!(d.pointer, "/states/b/llm/extract/2");
    assert_eq!(d.message, "`extract` lists slot `name` twice");
    let src = ok.replace("[name, email, size]", "[]");
    assert_eq!(
        only(&src, "invalid-extract").message,
        "`extract` lists no slots"
    );
    let src = ok.replace("size] }", "size], save_as: raw }");
    let d = only(&src, "extract-with-save-as");
    assert_at(&d, "/states/b/llm/save_as", pos_of(&src, "raw }"));
    // `prompt` is optional only with `extract`.
    let src = ok.replace("extract: [name, email, size]", "system: s");
    assert_eq!(codes(&src), ["missing-field"]);
}

#[test]
fn object_slots() {
    let slots = "  order: { type: object }\n";
    let src = flow(
        slots,
        "  b:\n    set: { order: '{\"status\": \"new\", \"n\": [1]}' }\n    next: c\n  c:\n    say: '{{ order.status }}'\n    next: [ { if: 'order.status == \"new\"', then: z }, { else: z } ]\n",
    )
    .replace("next: z\n  b:", "next: b\n  b:");
    assert!(check(FILE, &src).is_empty(), "{:#?}", check(FILE, &src));
    let bad = src.replace("'{\"status\": \"new\", \"n\": [1]}'", "'\"new\"'");
    let d = only(&bad, "set-type-mismatch");
    assert_eq!(
        d.message,
        "`\"new\"` does not fit object slot `order`: a string value cannot be stored in an object slot"
    );
    let bad = flow(slots, "").replace("slot: name", "slot: order");
    let d = only(&bad, "collect-object-slot");
    assert_at(&d, "/states/a/collect/slot", pos_of(&bad, "order, prompt"));
    let bad = flow("  order: { type: object, max_length: 3 }\n", "");
    assert_eq!(
        only(&bad, "slot-option-not-applicable").hint.as_deref(),
        Some("`object` slots take no options")
    );
}

#[test]
fn interrupt_checks() {
    let base = flow("", "  agent:\n    handoff: { queue: general }\n");
    let with = |interrupts: &str| {
        base.replace(
            "start: a\n",
            &format!("start: a\ninterrupts:\n{interrupts}"),
        )
    };
    // The interrupt makes `agent` reachable.
    assert_eq!(codes(&base), ["unreachable-state"]);
    let ok = with(
        "  - match: [agent, 'talk to a person']\n    goto: agent\n  - when: 'input == \"restart\"'\n    goto: a\n",
    );
    assert!(check(FILE, &ok).is_empty(), "{:#?}", check(FILE, &ok));

    let src = with("  - match: [agent]\n    goto: agnet\n");
    let d = only(&src, "unknown-state");
    assert_at(&d, "/interrupts/0/goto", pos_of(&src, "agnet"));
    assert_eq!(d.message, "`goto` points to unknown state `agnet`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `agent`?"));
    assert_eq!(d.state, None);

    let src = with("  - match: [agent]\n    when: 'true'\n    goto: agent\n");
    let d = only(&src, "invalid-interrupt");
    assert_at(&d, "/interrupts/0/when", pos_of(&src, "'true'"));
    assert_eq!(d.message, "interrupt 0 has both `match` and `when`");
    let src = with("  - goto: agent\n");
    assert_eq!(
        only(&src, "invalid-interrupt").message,
        "interrupt 0 has neither `match` nor `when`"
    );
    let src = with("  - match: []\n    goto: agent\n");
    assert_eq!(
        only(&src, "invalid-interrupt").message,
        "`match` needs at least one phrase"
    );
    let src = with("  - match: [agent, '  ']\n    goto: agent\n");
    assert_eq!(
        only(&src, "invalid-interrupt").pointer,
        "/interrupts/0/match/1"
    );
    let src = with("  - when: 'input =='\n    goto: agent\n");
    assert_eq!(only(&src, "cel-syntax").pointer, "/interrupts/0/when");
    let src = with("  - when: 'nme == \"x\"'\n    goto: agent\n");
    assert_eq!(
        only(&src, "undeclared-variable").hint.as_deref(),
        Some("did you mean `name`?")
    );
    let src = with("  - match: [agent]\n    goto: agent\n    gto: a\n");
    assert_eq!(
        only(&src, "unknown-field").hint.as_deref(),
        Some("did you mean `goto`? (allowed fields: match, when, goto)")
    );
}

#[test]
fn interrupt_targets_must_still_terminate() {
    let src = "id: t\nslots:\n  name: { type: string }\nstart: a\ninterrupts:\n  - match: [loop]\n    goto: l\nstates:\n  a:\n    collect: { slot: name, prompt: p }\n    next: z\n  l:\n    collect: { slot: name, prompt: again }\n    next: l\n  z:\n    end: bye\n";
    // `l` is only reachable through the interrupt; from `l` the interrupt
    // leads back to `l` only, so no terminal is reachable.
    let all = check(FILE, src);
    let found: Vec<(&str, &str)> = all.iter().map(|d| (d.code, d.pointer.as_str())).collect();
    assert_eq!(found, [("no-end-reachable", "/states/l")]);
}
