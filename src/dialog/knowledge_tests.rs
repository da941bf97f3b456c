//! An `llm` state's retrieval (`knowledge`, `min_score`, `top_k`, `on_no_answer`,
//! `query`): its diagnostics at line:column, the tenant check of knowledge base names,
//! the question the engine hands the runtime, and the engine's no-answer path.

use std::collections::BTreeSet;

use crate::dialog::fixtures::only;
use crate::dialog::fixtures::{FILE, assert_at, compiled, flow, pos_of, run, says, text};
use crate::dialog::{CompileOptions, Effect, Event, Status, Step, check, check_with};

fn answer_state(options: &str) -> String {
    flow(
        "",
        &format!(
            "  answer:\n    llm:\n      prompt: \"{{{{ input }}}}\"\n{options}    next: z\n  human:\n    handoff: {{ queue: support }}\n"
        ),
    )
    .replace("next: z\n  answer", "next: answer\n  answer")
}

fn codes(src: &str) -> Vec<&'static str> {
    check(FILE, src).iter().map(|d| d.code).collect()
}

#[test]
fn a_valid_retrieval_compiles() {
    let src = answer_state(
        "      knowledge: [help, faq.v2]\n      min_score: 0.35\n      top_k: 3\n      on_no_answer: human\n",
    );
    assert!(
        check(FILE, &src).iter().all(|d| !d.is_error()),
        "{:#?}",
        check(FILE, &src)
    );
    let flow = compiled(&src);
    let spec = flow.knowledge_of("answer").expect("retrieves");
    assert_eq!(spec.knowledge_bases, ["help", "faq.v2"]);
    assert_eq!(spec.top_k, 3);
    assert!((spec.min_score - 0.35).abs() < 1e-6);
    assert_eq!(spec.on_no_answer.as_deref(), Some("human"));
    assert!(flow.knowledge_of("a").is_none());
}

#[test]
fn bad_names_thresholds_and_targets_point_at_their_field() {
    let src = answer_state(
        "      knowledge: [help, 'Bad Name', help]\n      min_score: 1.5\n      top_k: 0\n      on_no_answer: humn\n",
    );
    let all = check(FILE, &src);
    let find = |code: &str| {
        all.iter()
            .find(|d| d.code == code)
            .unwrap_or_else(|| panic!("no `{code}` in {all:#?}"))
            .clone()
    };
    assert_at(
        &find("invalid-knowledge-name"),
        "/states/answer/llm/knowledge/1",
        pos_of(&src, "'Bad Name'"),
    );
    assert_at(
        &find("duplicate-knowledge"),
        "/states/answer/llm/knowledge/2",
        pos_of(&src, "help]"),
    );
    assert_at(
        &find("invalid-min-score"),
        "/states/answer/llm/min_score",
        pos_of(&src, "1.5"),
    );
    assert_at(
        &find("invalid-top-k"),
        "/states/answer/llm/top_k",
        pos_of(&src, "0\n"),
    );
    let target = find("unknown-state");
    assert_eq!(target.pointer, "/states/answer/llm/on_no_answer");
    assert_eq!(target.hint.as_deref(), Some("did you mean `human`?"));
}

#[test]
fn options_without_knowledge_and_knowledge_with_extract_are_refused() {
    let src = answer_state("      min_score: 0.3\n      on_no_answer: human\n");
    assert_eq!(
        codes(&src)
            .iter()
            .filter(|c| **c == "knowledge-option-without-knowledge")
            .count(),
        2
    );
    let src = flow(
        "",
        "  x:\n    llm:\n      extract: [name]\n      knowledge: [help]\n    next: z\n",
    );
    assert!(
        codes(&src).contains(&"knowledge-with-extract"),
        "{:?}",
        codes(&src)
    );
}

#[test]
fn the_tenants_knowledge_bases_are_checked_when_known() {
    let src = answer_state("      knowledge: [hlep]\n");
    let options = CompileOptions {
        knowledge_bases: Some(BTreeSet::from(["help".to_owned()])),
        ..CompileOptions::default()
    };
    let all = check_with(FILE, &src, &options);
    let unknown = all
        .iter()
        .find(|d| d.code == "unknown-knowledge")
        .expect("checked");
    assert_at(
        unknown,
        "/states/answer/llm/knowledge/0",
        pos_of(&src, "hlep"),
    );
    assert_eq!(unknown.hint.as_deref(), Some("did you mean `help`?"));
    let none = CompileOptions {
        knowledge_bases: Some(BTreeSet::new()),
        ..CompileOptions::default()
    };
    let all = check_with(FILE, &src, &none);
    assert_eq!(
        all.iter()
            .find(|d| d.code == "unknown-knowledge")
            .and_then(|d| d.hint.as_deref()),
        Some("this tenant has no knowledge bases")
    );
}

#[test]
fn no_answer_takes_on_no_answer_or_goes_on() {
    let with = compiled(&answer_state(
        "      knowledge: [help]\n      on_no_answer: human\n",
    ));
    let steps = run(
        &with,
        &Default::default(),
        vec![
            Event::Start,
            text("Ada"),
            Event::NoAnswer {
                state: "answer".into(),
            },
        ],
    );
    assert!(matches!(&steps[1].state.status, Status::AwaitingLlm { state } if state == "answer"));
    assert!(
        matches!(&steps[2].state.status, Status::HumanMode { queue, .. } if queue == "support")
    );

    let without = compiled(&answer_state("      knowledge: [help]\n"));
    let steps = run(
        &without,
        &Default::default(),
        vec![
            Event::Start,
            text("Ada"),
            Event::NoAnswer {
                state: "answer".into(),
            },
        ],
    );
    assert_eq!(says(&steps[2]), ["bye"]);
    assert_eq!(steps[2].state.status, Status::Ended);
}

/// The question of the model turn a step asked for.
fn asked_query(step: &Step) -> Option<String> {
    step.effects.iter().find_map(|e| match e {
        Effect::StreamLlm(turn) => Some(turn.query.clone()),
        _ => None,
    })?
}

#[test]
fn the_question_is_the_query_rendered_over_the_slots_else_the_latest_message() {
    let with = compiled(&answer_state(
        "      knowledge: [help]\n      query: \"{{ name }} asks: {{ input }}\"\n",
    ));
    assert!(with.knowledge_of("answer").unwrap().query.is_some());
    let steps = run(&with, &Default::default(), vec![Event::Start, text("Ada")]);
    assert_eq!(asked_query(&steps[1]).as_deref(), Some("Ada asks: Ada"));

    let without = compiled(&answer_state("      knowledge: [help]\n"));
    assert_eq!(without.knowledge_of("answer").unwrap().query, None);
    let steps = run(
        &without,
        &Default::default(),
        vec![Event::Start, text("Ada")],
    );
    assert_eq!(asked_query(&steps[1]).as_deref(), Some("Ada"));

    // A state that does not retrieve asks no question.
    let plain = compiled(&answer_state(""));
    let steps = run(&plain, &Default::default(), vec![Event::Start, text("Ada")]);
    assert_eq!(asked_query(&steps[1]), None);
}

#[test]
fn a_query_is_checked_like_every_template_at_its_line() {
    let src = answer_state("      knowledge: [help]\n      query: '{{ nme }} {{ input }}'\n");
    let d = only(&src, "undeclared-variable");
    assert_at(
        &d,
        "/states/answer/llm/query",
        pos_of(&src, "'{{ nme }} {{ input }}'"),
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `name`?"));

    let src = answer_state("      knowledge: [help]\n      query: '{{ name '\n");
    let d = only(&src, "template-syntax");
    assert_at(&d, "/states/answer/llm/query", pos_of(&src, "'{{ name '"));

    let src = answer_state("      knowledge: [help]\n      query: '  '\n");
    let d = only(&src, "invalid-query");
    assert_at(&d, "/states/answer/llm/query", pos_of(&src, "'  '"));

    let src = answer_state("      query: '{{ input }}'\n");
    let d = only(&src, "knowledge-option-without-knowledge");
    assert_at(
        &d,
        "/states/answer/llm/query",
        pos_of(&src, "'{{ input }}'"),
    );
}
