//! `switchboard analytics`: a tenant's conversation analytics from a running server's
//! admin API (`GET …/analytics`), as a table, the API's JSON (`--json`) or CSV
//! (`--csv`, from `GET …/analytics.csv`). docs/analytics.md defines the numbers.

use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use super::remote::{Remote, RemoteArgs, encode};

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// First UTC day, YYYY-MM-DD (default: the first day of this month).
    #[arg(long)]
    pub from: Option<String>,
    /// Last UTC day, inclusive, YYYY-MM-DD (default: today).
    #[arg(long)]
    pub to: Option<String>,
    /// Only this flow.
    #[arg(long)]
    pub flow: Option<String>,
    /// Only this flow version.
    #[arg(long)]
    pub version: Option<i64>,
    /// Only this channel (webchat, whatsapp, slack, teams).
    #[arg(long)]
    pub channel: Option<String>,
    /// day, flow, version, channel or state.
    #[arg(long, default_value = "day")]
    pub group_by: String,
    /// Print the API's JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (one line per group, or per state for --group-by state).
    #[arg(long)]
    pub csv: bool,
}

pub async fn run(args: AnalyticsArgs) -> anyhow::Result<ExitCode> {
    let mut query = vec![format!("group_by={}", encode(&args.group_by))];
    for (name, value) in [
        ("from", &args.from),
        ("to", &args.to),
        ("flow", &args.flow),
        ("channel", &args.channel),
    ] {
        if let Some(value) = value {
            query.push(format!("{name}={}", encode(value)));
        }
    }
    if let Some(version) = args.version {
        query.push(format!("version={version}"));
    }
    let remote = Remote::new(args.remote);
    let resource = if args.csv {
        "analytics.csv"
    } else {
        "analytics"
    };
    let path = format!("/{resource}?{}", query.join("&"));
    let response = remote
        .send(
            reqwest::Method::GET,
            &path,
            "application/json",
            String::new(),
        )
        .await?;
    if !response.ok() {
        eprintln!("error: {}", response.error_message());
        return Ok(ExitCode::FAILURE);
    }
    match &response.body {
        Value::String(csv) if args.csv => print!("{csv}"),
        body if args.json => println!("{}", serde_json::to_string_pretty(body)?),
        body => print!("{}", table(body)),
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(rate: &Value) -> String {
    format!("{:.1}%", rate.as_f64().unwrap_or(0.0) * 100.0)
}

fn ms(value: &Value) -> String {
    value
        .as_i64()
        .map_or_else(|| "-".into(), |v| format!("{v}ms"))
}

/// The report as aligned columns: conversation metrics per group, then the states.
fn table(report: &Value) -> String {
    let line = |key: &str, m: &Value| {
        let cost = m["cost_micros"].as_i64().unwrap_or(0);
        format!(
            "{key:<24} {:>8} {:>9} {:>9} {:>9} {:>7} {:>16} {:>9} {:>9}\n",
            m["started"].as_i64().unwrap_or(0),
            percent(&m["containment_rate"]),
            percent(&m["handoff_rate"]),
            percent(&m["abandonment_rate"]),
            format!("{:.2}", m["turns_per_conversation"].as_f64().unwrap_or(0.0)),
            format!("{}.{:06}", cost / 1_000_000, cost % 1_000_000),
            ms(&m["turn_latency_ms"]["p50"]),
            ms(&m["turn_latency_ms"]["p95"]),
        )
    };
    let mut out = format!(
        "analytics of {} from {} to {} (abandoned after {} s of silence)\n\n{:<24} {:>8} {:>9} {:>9} {:>9} {:>7} {:>16} {:>9} {:>9}\n",
        report["tenant"].as_str().unwrap_or(""),
        report["from"].as_str().unwrap_or(""),
        report["to"].as_str().unwrap_or(""),
        report["abandon_after_secs"],
        report["group_by"].as_str().unwrap_or("group"),
        "started",
        "contained",
        "handoff",
        "abandoned",
        "turns",
        format!("cost ({})", report["currency"].as_str().unwrap_or("")),
        "turn p50",
        "turn p95",
    );
    for group in report["groups"].as_array().into_iter().flatten() {
        out.push_str(&line(group["key"].as_str().unwrap_or(""), group));
    }
    out.push_str(&line("total", &report["total"]));
    let states = report["states"].as_array().cloned().unwrap_or_default();
    if !states.is_empty() {
        out.push_str(&format!(
            "\n{:<24} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
            "state", "visits", "reprompt", "fallback", "drop-off", "dropoffs"
        ));
        for s in &states {
            out.push_str(&format!(
                "{:<24} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
                s["state"].as_str().unwrap_or(""),
                s["visits"].as_i64().unwrap_or(0),
                percent(&s["reprompt_rate"]),
                percent(&s["fallback_rate"]),
                percent(&s["dropoff_rate"]),
                s["dropoffs"].as_i64().unwrap_or(0),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_rates_cost_and_states() {
        let metrics = serde_json::json!({"started": 4, "containment_rate": 0.25,
            "handoff_rate": 0.25, "abandonment_rate": 0.5, "turns_per_conversation": 1.5,
            "cost_micros": 1_500, "turn_latency_ms": {"p50": 300, "p95": null}});
        let report = serde_json::json!({"tenant": "shop", "from": "2026-11-01",
            "to": "2026-11-30", "abandon_after_secs": 1800, "group_by": "channel",
            "currency": "USD", "total": metrics,
            "groups": [{"key": "webchat", "started": 4, "containment_rate": 0.25}],
            "states": [{"state": "ask_age", "visits": 4, "reprompt_rate": 0.4,
                "fallback_rate": 0.25, "dropoff_rate": 0.0, "dropoffs": 0}]});
        let text = table(&report);
        assert!(text.contains("analytics of shop from 2026-11-01"), "{text}");
        let total = text.lines().find(|l| l.starts_with("total")).unwrap();
        assert!(
            total.contains("25.0%") && total.contains("0.001500"),
            "{total}"
        );
        assert!(total.contains("300ms") && total.ends_with('-'), "{total}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("ask_age") && l.contains("40.0%"))
        );
    }
}
