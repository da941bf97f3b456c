//! Step-by-step runs of `examples/flows/order_status.yaml`: validation of
//! the order id, the adaptor call and its results, failures and handoff.

use serde_json::json;

use crate::dialog::examples_tests::{example, human};
use crate::dialog::fixtures::{awaiting, run, says, text, warnings};
use crate::dialog::{AdaptorCall, DialogState, Effect, Event, Status, step};

#[test]
fn order_status_runs() {
    let flow = example("order_status");
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![
            Event::Start,
            text("ab-123"),
            text(" AB-12345 "),
            text("hurry up"),
        ],
    );
    assert_eq!(
        says(&steps[0]),
        [
            "I can check the status of your order.",
            "What's your order number? It looks like AB-12345."
        ]
    );
    assert_eq!(steps[1].state.attempts, 1);
    assert!(says(&steps[1])[0].starts_with("That doesn't look like an order number."));
    assert_eq!(
        steps[2].effects,
        [
            Effect::SlotSet {
                slot: "order_id".into(),
                value: json!("AB-12345")
            },
            Effect::CallAdaptor(AdaptorCall {
                state: "lookup".into(),
                adaptor: "order_status".into(),
                args: [("order_id".to_owned(), "AB-12345".to_owned())].into(),
                timeout_ms: Some(3000),
            })
        ]
    );
    let waiting = steps[2].state.clone();
    assert_eq!(
        waiting.status,
        Status::AwaitingAdaptor {
            state: "lookup".into()
        }
    );
    // Text while the adaptor runs is queued by the runtime: no-op here.
    assert!(steps[3].effects.is_empty());
    assert_eq!(steps[3].state, waiting);

    let shipped = json!({"status": "shipped", "carrier": "DHL", "eta": "2024-06-03"});
    let s = step(
        &flow,
        &waiting,
        Event::AdaptorResult {
            value: shipped.clone(),
        },
    );
    assert_eq!(
        s.effects[0],
        Effect::SlotSet {
            slot: "order".into(),
            value: shipped
        }
    );
    assert_eq!(
        says(&s),
        ["Good news: order AB-12345 has shipped with DHL and should arrive by 2024-06-03."]
    );
    assert_eq!(s.effects.last(), Some(&Effect::Ended));

    let s = step(
        &flow,
        &waiting,
        Event::AdaptorResult {
            value: json!({"status": "processing"}),
        },
    );
    assert_eq!(
        says(&s),
        ["Order AB-12345 is being prepared and will ship in the next few days."]
    );
    let s = step(
        &flow,
        &waiting,
        Event::AdaptorResult {
            value: json!({"status": "cancelled"}),
        },
    );
    assert_eq!(
        says(&s),
        [
            "Order AB-12345 is currently \"cancelled\". You'll find the details at https://example.com/orders."
        ]
    );
    assert!(warnings(&s).is_empty(), "{:?}", warnings(&s));
}

#[test]
fn order_status_failures() {
    let flow = example("order_status");
    let waiting = run(
        &flow,
        &DialogState::default(),
        vec![Event::Start, text("AB-1234")],
    )
    .remove(1)
    .state;
    // Failure → apology with a handoff offer → yes → orders queue; no
    // `next` on the handoff, so release ends the conversation.
    let steps = run(
        &flow,
        &waiting,
        vec![
            Event::AdaptorFailed {
                error: "timeout after 3000 ms".into(),
            },
            text("yes"),
            Event::Released,
        ],
    );
    assert_eq!(
        says(&steps[0]),
        [
            "Sorry, I couldn't look up order AB-1234 right now. Would you like to talk to a person? (yes/no)"
        ]
    );
    assert!(warnings(&steps[0]).is_empty());
    assert_eq!(
        says(&steps[1]),
        ["Connecting you with our order team about AB-1234…"]
    );
    assert_eq!(steps[1].state.status, human("to_agent", "orders"));
    assert_eq!(steps[2].effects, [Effect::Ended]);
    assert_eq!(steps[2].state.status, Status::Ended);

    // A result that is not an object warns and takes `on_error` too.
    let steps = run(
        &flow,
        &waiting,
        vec![
            Event::AdaptorResult {
                value: json!("not found"),
            },
            text("no"),
        ],
    );
    assert_eq!(warnings(&steps[0]).len(), 1);
    assert!(
        warnings(&steps[0])[0].contains("result of adaptor `order_status` not stored in `order`"),
        "{}",
        warnings(&steps[0])[0]
    );
    assert!(!steps[0].state.slots.contains_key("order"));
    assert_eq!(steps[0].state.status, awaiting("lookup_failed"));
    assert_eq!(
        says(&steps[1]),
        ["No problem. You can also check your orders at https://example.com/orders. Bye!"]
    );

    // Three bad order numbers → give up.
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![Event::Start, text("1"), text("2"), text("3")],
    );
    assert_eq!(
        says(&steps[3]),
        [
            "Sorry, I couldn't recognise that order number. You'll find it in your confirmation email. Bye!"
        ]
    );
    assert_eq!(steps[3].state.status, Status::Ended);
}
