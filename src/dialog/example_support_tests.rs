//! Step-by-step runs of `examples/flows/support_triage.yaml`: triage,
//! self-serve tips, handoffs by area, and the global interrupts.

use serde_json::json;

use crate::dialog::examples_tests::{example, handoff, human};
use crate::dialog::fixtures::{awaiting, run, says, text};
use crate::dialog::{DialogState, Effect, Event, Status};

#[test]
fn support_triage_runs() {
    let flow = example("support_triage");
    // Billing: described, then handed to the billing queue; the agent
    // releases the conversation and the flow resumes at `after_agent`.
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![
            Event::Start,
            text("Billing "),
            text("I was charged twice"),
            text("hello? anyone?"),
            Event::Released,
        ],
    );
    assert_eq!(
        says(&steps[0]),
        [
            "Hi! I'm the support assistant. Say \"agent\" at any time to reach a person.",
            "What is your problem about: password, shipping, billing or technical?"
        ]
    );
    assert_eq!(steps[1].state.slots["area"], json!("billing"));
    assert_eq!(
        says(&steps[1]),
        ["Please describe the problem in a sentence or two."]
    );
    assert_eq!(
        says(&steps[2]),
        [
            "I'm connecting you with our billing team. They will see what you wrote: \"I was charged twice\""
        ]
    );
    assert_eq!(
        steps[2].effects.last(),
        Some(&handoff("billing", "to_billing"))
    );
    assert_eq!(steps[2].state.status, human("to_billing", "billing"));
    // Text in human mode is the agent's business: no effects, no change.
    assert!(steps[3].effects.is_empty());
    assert_eq!(steps[3].state, steps[2].state);
    assert_eq!(
        says(&steps[4]),
        ["Thanks for contacting support. Have a great day!"]
    );
    assert_eq!(steps[4].effects.last(), Some(&Effect::Ended));

    // Password: a self-serve tip, solved.
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![
            Event::Start,
            text("password"),
            text("I forgot it"),
            text("yes"),
        ],
    );
    assert_eq!(
        says(&steps[2]),
        [
            "You can reset your password at https://example.com/reset — the link in the email is valid for 30 minutes.",
            "Did that solve your problem? (yes/no)"
        ]
    );
    assert_eq!(says(&steps[3]), ["Glad I could help. Have a great day!"]);
    assert_eq!(steps[3].state.status, Status::Ended);

    // Shipping tip not enough → a person, who knows the area.
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![
            Event::Start,
            text("shipping"),
            text("parcel is late"),
            text("no"),
        ],
    );
    assert_eq!(
        says(&steps[3]),
        ["Connecting you with a person who knows about shipping…"]
    );
    assert_eq!(steps[3].state.status, human("to_agent", "general"));

    // Technical → technical queue.
    let s = run(
        &flow,
        &DialogState::default(),
        vec![Event::Start, text("TECHNICAL"), text("app crashes")],
    );
    assert_eq!(s[2].state.status, human("to_technical", "technical"));
}

#[test]
fn support_triage_interrupts() {
    let flow = example("support_triage");
    // A wrong answer, then "start over": back to greet, attempts reset.
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![Event::Start, text("gardening"), text("Start over, please")],
    );
    assert_eq!(steps[1].state.attempts, 1);
    assert_eq!(
        says(&steps[1]),
        ["Please answer password, shipping, billing or technical."]
    );
    assert_eq!(steps[2].state.attempts, 0);
    assert_eq!(steps[2].state.status, awaiting("ask_area"));
    assert!(says(&steps[2])[0].starts_with("Hi! I'm the support assistant."));
    assert!(
        steps[2]
            .effects
            .iter()
            .all(|e| !matches!(e, Effect::SlotSet { .. }))
    );

    // "  Talk to a PERSON " at the description question → general queue.
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![
            Event::Start,
            text("billing"),
            text("  Talk to a PERSON "),
            Event::Released,
        ],
    );
    assert_eq!(
        says(&steps[2]),
        ["Connecting you with a person who knows about billing…"]
    );
    assert_eq!(
        steps[2].effects.last(),
        Some(&handoff("general", "to_agent"))
    );
    assert!(!steps[2].state.slots.contains_key("description"));
    assert_eq!(steps[3].state.status, Status::Ended);

    // Only whole messages match: "agent smith" is a description.
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![
            Event::Start,
            text("agent"),
            text("billing"),
            text("agent smith"),
        ],
    );
    assert_eq!(steps[1].state.status, human("to_agent", "general"));
    assert_eq!(says(&steps[1]), ["Connecting you with a person…"]);
    // In human mode even "start over" is for the agent.
    assert!(steps[2].effects.is_empty() && steps[3].effects.is_empty());
}
