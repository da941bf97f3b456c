//! Flow compile time against flow size: chains of N `say` states (each pointing at the
//! next, the last at an `end`), compiled N = 1,000, 2,000, 5,000 and 10,000 (or `SIZES`).
//! The graph checks are linear, so the time per state should stay flat as N grows; it was
//! quadratic (62 s for 8,000 states) before issue 18.
//!
//! `cargo bench --bench compile_flow` (env: SIZES, comma-separated; RUNS per size,
//! default 3, the best is kept). Prints one line per size.

use std::time::{Duration, Instant};

/// A valid flow of `n` chained `say` states.
fn chain(n: usize) -> String {
    let mut source = String::from("id: chain\nstart: s0\nstates:\n");
    for i in 0..n {
        source.push_str(&format!(
            "  s{i}:\n    say: \"step {i}\"\n    next: s{}\n",
            i + 1
        ));
    }
    source.push_str(&format!("  s{n}:\n    end: \"done\"\n"));
    source
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SIZES")
        .unwrap_or_else(|_| "1000,2000,5000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!("| states | source | best of {runs} | per state |");
    println!("|---|---|---|---|");
    for n in sizes {
        let source = chain(n);
        let mut best = Duration::MAX;
        for _ in 0..runs.max(1) {
            let started = Instant::now();
            let flow = switchboard::dialog::compile("chain.yaml", &source);
            best = best.min(started.elapsed());
            assert!(flow.is_ok(), "a chain of {n} states must compile");
        }
        println!(
            "| {n} | {} KiB | {:.1} ms | {:.1} µs |",
            source.len() / 1024,
            best.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e6 / n as f64
        );
    }
}
