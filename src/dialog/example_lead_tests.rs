//! Step-by-step runs of `examples/flows/lead_capture.yaml`: LLM
//! extraction, asking for what is missing, email re-prompts, qualification.

use serde_json::json;

use crate::dialog::examples_tests::example;
use crate::dialog::fixtures::{run, says, text, warnings};
use crate::dialog::{DialogState, Effect, Event, Status, step};

#[test]
fn lead_capture_runs() {
    let flow = example("lead_capture");
    let intro = "I'm Ada from Acme (120 people), ada@acme.io";
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![Event::Start, text(intro)],
    );
    assert_eq!(
        says(&steps[0]),
        [
            "Hi! Tell me a bit about yourself: your name, your email and how many people work at your company."
        ]
    );
    let Some(Effect::StreamLlm(turn)) = steps[1].effects.last() else {
        panic!("expected StreamLlm: {:?}", steps[1].effects);
    };
    assert_eq!(turn.prompt, intro);
    assert_eq!(
        turn.system.as_deref(),
        Some(
            "Extract the lead's details from the visitor's message. Leave out anything they did not say."
        )
    );
    let spec = turn.extract.as_ref().expect("extract spec");
    assert_eq!(spec.slots, ["name", "email", "company_size"]);
    assert_eq!(
        spec.schema["properties"],
        json!({
            "name": {"type": "string", "maxLength": 100},
            "email": {"type": "string", "format": "email"},
            "company_size": {"type": "integer", "minimum": 1},
        })
    );
    let waiting = steps[1].state.clone();
    assert_eq!(
        waiting.status,
        Status::AwaitingLlm {
            state: "extract_lead".into()
        }
    );

    // Everything extracted (unrequested keys ignored) → qualified summary.
    let values =
        json!({"name": " Ada ", "email": "ada@acme.io", "company_size": 120, "phone": "1"});
    let s = step(
        &flow,
        &waiting,
        Event::LlmExtracted {
            values: values.as_object().cloned().unwrap_or_default(),
        },
    );
    assert_eq!(s.state.slots["name"], json!("Ada"));
    assert_eq!(s.state.slots["qualified"], json!(true));
    assert!(!s.state.slots.contains_key("phone"));
    assert_eq!(
        says(&s),
        [
            "Thanks Ada! We'll write to ada@acme.io about your team of 120. A member of our sales team will reach out within one business day."
        ]
    );
    assert!(warnings(&s).is_empty(), "{:?}", warnings(&s));
    assert_eq!(s.state.status, Status::Ended);
}

#[test]
fn lead_capture_asks_for_what_is_missing() {
    let flow = example("lead_capture");
    let waiting = run(
        &flow,
        &DialogState::default(),
        vec![Event::Start, text("Bob, 12 people, bob at example")],
    )
    .remove(1)
    .state;
    // An invalid email is dropped with a warning; "12" fills the integer.
    let values = json!({"name": "Bob", "email": "bob at example", "company_size": "12"});
    let steps = run(
        &flow,
        &waiting,
        vec![
            Event::LlmExtracted {
                values: values.as_object().cloned().unwrap_or_default(),
            },
            text("bob@"),
            text("bob@example.com"),
        ],
    );
    assert_eq!(warnings(&steps[0]).len(), 1);
    assert!(
        warnings(&steps[0])[0]
            .contains("extracted value for `email` ignored: not an email address"),
        "{}",
        warnings(&steps[0])[0]
    );
    assert_eq!(steps[0].state.slots["company_size"], json!(12));
    assert_eq!(says(&steps[0]), ["Thanks, Bob! What's your email address?"]);
    assert_eq!(
        says(&steps[1]),
        ["That doesn't look like an email address. Please try again, e.g. name@example.com."]
    );
    assert_eq!(steps[2].state.slots["qualified"], json!(false));
    assert_eq!(
        says(&steps[2]),
        [
            "Thanks Bob! We'll write to bob@example.com about your team of 12. In the meantime, our getting-started guide is at https://example.com/start."
        ]
    );

    // The model fails: ask for everything, one by one.
    let steps = run(
        &flow,
        &waiting,
        vec![
            Event::LlmFailed,
            text("Cy"),
            text("cy@example.com"),
            text("lots"),
            text("75"),
        ],
    );
    assert_eq!(says(&steps[0]), ["What's your name?"]);
    assert_eq!(says(&steps[1]), ["Thanks, Cy! What's your email address?"]);
    assert_eq!(says(&steps[2]), ["How many people work at your company?"]);
    assert_eq!(
        says(&steps[3]),
        ["Please answer with a whole number of at least 1."]
    );
    assert_eq!(steps[4].state.slots["qualified"], json!(true));
    assert_eq!(steps[4].state.status, Status::Ended);

    // Three bad emails end politely.
    let values = json!({"name": "Di", "company_size": 3});
    let steps = run(
        &flow,
        &waiting,
        vec![
            Event::LlmExtracted {
                values: values.as_object().cloned().unwrap_or_default(),
            },
            text("a"),
            text("b"),
            text("c"),
        ],
    );
    assert_eq!(
        says(&steps[3]),
        ["Sorry, I need a valid email address to follow up. Feel free to come back any time!"]
    );
}
