//! The Switchboard dialog engine: YAML flow definitions, a compiler with
//! rustc-style diagnostics, and a pure `step` function.
//!
//! A flow is a small state machine over typed slots. States `say`,
//! `collect` (typed user answers with re-prompts), `llm` (a streamed reply,
//! or structured `extract`ion into slots), `call` (a tenant HTTP adaptor),
//! `handoff` (to a human agent queue), `set` (CEL assignments) and `end`
//! are linked by `next`; global `interrupts` jump from any `collect` when
//! the user says e.g. "agent". [`compile`] turns YAML into an immutable,
//! `Send + Sync` [`CompiledFlow`] or a list of [`Diagnostic`]s (code, JSON
//! pointer, line/column, hint); [`check`] returns every finding including
//! warnings; the `_with` variants take [`CompileOptions`] (the tenant's
//! adaptor names). [`step`] advances a [`DialogState`] by one [`Event`] and
//! returns the new state plus [`Effect`]s for the runtime to perform — it
//! does no IO (adaptor calls, LLM turns and handoffs are effects), so
//! conversations are deterministic and replayable. The only IO lives in
//! [`load_file`] / [`load_dir`]. [`flow_json_schema`] describes the format.
//!
//! Layout, one concept per file: `definition` (serde types of the format),
//! `schema` (its JSON Schema), `parse` + `source_map` (YAML → definition,
//! pointer ↔ position), `compile` → `slot_config`, `lower` + `lower_io` +
//! `resolve` + `interrupts`, `graph` (checks), `flow` (compiled form),
//! `slots` (value validation), `extract` (extraction schema and values),
//! `expr` (CEL), `template` (minijinja sandbox), `state` + `engine` +
//! `resume` (runtime), `loader`, `outline` (states, lines and labelled
//! transitions, for drawing a flow).
//! Only `crate::dialog::…` paths are used, so the folder can be moved as is.

mod canonical;
mod compile;
pub mod definition;
mod diagnostics;
mod engine;
mod expr;
mod extract;
mod flow;
mod graph;
mod interrupts;
mod loader;
mod lower;
mod lower_io;
mod lower_knowledge;
mod no_answer;
mod outline;
mod parse;
mod resolve;
mod resume;
mod schema;
mod slot_config;
mod slots;
mod source_map;
mod state;
mod suggest;
mod template;

pub use compile::{CompileOptions, check, check_with, compile, compile_report, compile_with};
pub use diagnostics::{Diagnostic, Severity};
pub use engine::{GIVE_UP_MESSAGE, MAX_ENTRIES_PER_STEP, step};
pub use flow::{CompiledFlow, KnowledgeSpec};
pub use loader::{LoadError, flow_files, load_dir, load_dir_with, load_file, load_file_with};
pub use lower_io::is_plain_name as is_queue_name;
pub use outline::{Outline, OutlineEdge, OutlineInterrupt, OutlineNode, outline};
pub use schema::flow_json_schema;
pub use slots::{MAX_OBJECT_DEPTH, SlotError, SlotType};
pub use state::{AdaptorCall, DialogState, Effect, Event, ExtractSpec, LlmTurn, Status, Step};

#[cfg(test)]
mod compile_tests;
#[cfg(test)]
mod engine_io_tests;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod example_lead_tests;
#[cfg(test)]
mod example_order_tests;
#[cfg(test)]
mod example_support_tests;
#[cfg(test)]
mod examples_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod knowledge_tests;
#[cfg(test)]
mod lower_io_tests;
#[cfg(test)]
mod lower_tests;
#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod timeout_tests;
