//! The shipped example flows (`examples/flows/*.yaml`) compile without any
//! diagnostic for a tenant with the `order_status` adaptor. Their expected
//! conversations are replayed in `example_*_tests.rs`; the files are read at
//! test time from [`EXAMPLES_DIR`] (relative to the crate root), so the
//! folder is the single source of truth.

use crate::dialog::fixtures::{compiled, tenant_options};
use crate::dialog::{CompiledFlow, Effect, Status, check_with};

/// Where the example flows live, relative to the crate root.
pub const EXAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flows");

pub fn example_source(name: &str) -> String {
    let path = format!("{EXAMPLES_DIR}/{name}.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

pub fn example(name: &str) -> CompiledFlow {
    compiled(&example_source(name))
}

pub fn human(state: &str, queue: &str) -> Status {
    Status::HumanMode {
        state: state.to_owned(),
        queue: queue.to_owned(),
    }
}

pub fn handoff(queue: &str, state: &str) -> Effect {
    Effect::Handoff {
        queue: queue.to_owned(),
        state: state.to_owned(),
    }
}

#[test]
fn examples_compile_without_diagnostics() {
    for name in ["support_triage", "order_status", "lead_capture"] {
        let diags = check_with("x.yaml", &example_source(name), &tenant_options());
        assert!(diags.is_empty(), "{name}: {diags:#?}");
    }
    let flow = example("order_status");
    assert_eq!(
        flow.adaptors().into_iter().collect::<Vec<_>>(),
        ["order_status"]
    );
    assert_eq!(flow.queues().into_iter().collect::<Vec<_>>(), ["orders"]);
}
