//! `switchboard usage`: a tenant's model usage and cost from a running server's admin API
//! (`GET …/usage`), as a table or, with `--json`, the API's JSON.

use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use super::remote::{Remote, RemoteArgs};

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// First UTC day, YYYY-MM-DD (default: the first day of this month).
    #[arg(long)]
    pub from: Option<String>,
    /// Last UTC day, inclusive, YYYY-MM-DD (default: today).
    #[arg(long)]
    pub to: Option<String>,
    /// day, flow, state, model or conversation.
    #[arg(long, default_value = "day")]
    pub group_by: String,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: UsageArgs) -> anyhow::Result<ExitCode> {
    let mut query = vec![format!("group_by={}", encode(&args.group_by))];
    if let Some(from) = &args.from {
        query.push(format!("from={}", encode(from)));
    }
    if let Some(to) = &args.to {
        query.push(format!("to={}", encode(to)));
    }
    let remote = Remote::new(args.remote);
    let path = format!("/usage?{}", query.join("&"));
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&response.body)?);
    } else {
        print!("{}", table(&response.body));
    }
    Ok(ExitCode::SUCCESS)
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The report as aligned columns, cost in the currency with six decimals.
fn table(report: &Value) -> String {
    let currency = report["currency"].as_str().unwrap_or("");
    let group_by = report["group_by"].as_str().unwrap_or("group");
    let row = |key: &str, sums: &Value| {
        let n = |k: &str| sums[k].as_i64().unwrap_or(0);
        let cost = n("cost_micros");
        format!(
            "{key:<36} {:>8} {:>12} {:>12} {:>16}\n",
            n("calls"),
            n("tokens_in"),
            n("tokens_out"),
            format!("{}.{:06}", cost / 1_000_000, cost % 1_000_000)
        )
    };
    let mut out = format!(
        "usage of {} from {} to {}\n\n{:<36} {:>8} {:>12} {:>12} {:>16}\n",
        report["tenant"].as_str().unwrap_or(""),
        report["from"].as_str().unwrap_or(""),
        report["to"].as_str().unwrap_or(""),
        group_by,
        "calls",
        "tokens in",
        "tokens out",
        format!("cost ({currency})"),
    );
    for group in report["groups"].as_array().into_iter().flatten() {
        let key = group["key"].as_str().unwrap_or("");
        out.push_str(&row(if key.is_empty() { "(none)" } else { key }, group));
    }
    out.push_str(&row("total", &report["total"]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_prints_cost_in_currency_units() {
        let report = serde_json::json!({
            "tenant": "shop", "currency": "USD", "from": "2026-11-01", "to": "2026-11-30",
            "group_by": "model",
            "total": {"calls": 3, "tokens_in": 1000, "tokens_out": 2000, "cost_micros": 1_350},
            "groups": [{"key": "gpt-4o-mini", "calls": 3, "tokens_in": 1000, "tokens_out": 2000,
                "cost_micros": 1_350}],
        });
        let text = table(&report);
        assert!(
            text.contains("usage of shop from 2026-11-01 to 2026-11-30"),
            "{text}"
        );
        assert!(text.contains("cost (USD)"), "{text}");
        let total = text.lines().find(|l| l.starts_with("total")).unwrap();
        assert!(total.ends_with("0.001350"), "{total}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("gpt-4o-mini") && l.contains(" 1000 ")),
            "{text}"
        );
    }
}
