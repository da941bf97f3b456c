//! The Switchboard dialog engine: YAML flow definitions, a compiler with
//! rustc-style diagnostics, and a pure `step` function.
//!
//! A flow is a small state machine (`say`, `collect`, `llm`, `set`, `end`
//! states linked by `next`) over typed slots. [`compile`] turns YAML into an
//! immutable, `Send + Sync` [`CompiledFlow`] or a list of [`Diagnostic`]s
//! (code, JSON pointer, line/column, hint); [`check`] returns every finding
//! including warnings. [`step`] advances a [`DialogState`] by one [`Event`]
//! and returns the new state plus [`Effect`]s for the runtime to perform —
//! it does no IO, so conversations are deterministic and replayable. The
//! only IO lives in [`load_file`] / [`load_dir`].
//!
//! Layout, one concept per file: `definition` (serde types of the format),
//! `parse` + `source_map` (YAML → definition, pointer ↔ position),
//! `compile` → `slot_config`, `lower` + `resolve`, `graph` (checks),
//! `flow` (compiled form), `slots` (value validation), `expr` (CEL),
//! `template` (minijinja sandbox), `state` + `engine` (runtime), `loader`.
//! Only `crate::dialog::…` paths are used, so the folder can be moved as is.

mod canonical;
mod compile;
pub mod definition;
mod diagnostics;
mod engine;
mod expr;
mod flow;
mod graph;
mod loader;
mod lower;
mod parse;
mod resolve;
mod slot_config;
mod slots;
mod source_map;
mod state;
mod suggest;
mod template;

pub use compile::{check, compile};
pub use diagnostics::{Diagnostic, Severity};
pub use engine::{GIVE_UP_MESSAGE, MAX_ENTRIES_PER_STEP, step};
pub use flow::CompiledFlow;
pub use loader::{LoadError, flow_files, load_dir, load_file};
pub use slots::{SlotError, SlotType};
pub use state::{DialogState, Effect, Event, LlmTurn, Status, Step};

#[cfg(test)]
mod compile_tests;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod lower_tests;
