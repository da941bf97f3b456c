//! Analytics: what each tenant's conversations did (started, contained, handed off,
//! abandoned; where people gave up; latencies; re-prompts and fallbacks per `collect`;
//! model cost per conversation and per state), kept as daily sums by a background
//! rollup job, so a month's report reads a few hundred rows however many conversations
//! there were. docs/analytics.md defines every number.
//!
//! `summary` is the pure rule book (events in, one conversation's contribution out),
//! `histogram` the latency buckets, `rollup` the job that stores summaries and sums,
//! and `report` what the admin API and the CLI answer.

pub mod histogram;
pub mod report;
pub mod rollup;
pub mod summary;
