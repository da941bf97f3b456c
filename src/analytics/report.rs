//! The analytics report: the daily sums of a range, filtered, added up per group (day,
//! flow, version or channel) and per state, with rates and latency percentiles. What
//! `GET /v1/admin/tenants/{tenant}/analytics` answers, as JSON or CSV.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::histogram::{Histogram, percentile};
use crate::store::{AnalyticsColumn, GroupSums, LatencySums, StateSums};

/// How the report's groups are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Day,
    Flow,
    Version,
    Channel,
    /// Only the per-state lines (`states`); no groups.
    State,
}

impl Grouping {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "day" => Grouping::Day,
            "flow" => Grouping::Flow,
            "version" => Grouping::Version,
            "channel" => Grouping::Channel,
            "state" => Grouping::State,
            _ => return None,
        })
    }

    /// The column the store groups by.
    pub fn column(self) -> AnalyticsColumn {
        match self {
            Grouping::Day => AnalyticsColumn::Day,
            Grouping::Flow => AnalyticsColumn::Flow,
            Grouping::Version => AnalyticsColumn::Version,
            Grouping::Channel => AnalyticsColumn::Channel,
            Grouping::State => AnalyticsColumn::None,
        }
    }
}

/// p50 and p95 of a latency, in milliseconds (bucket bounds, ≤ 10 % above the exact
/// value); `None` when nothing was measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Percentiles {
    /// How many durations were measured.
    pub count: i64,
    pub p50: Option<i64>,
    pub p95: Option<i64>,
}

/// The conversation metrics of a group (docs/analytics.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Metrics {
    pub started: i64,
    pub contained: i64,
    pub handed_off: i64,
    pub abandoned: i64,
    /// contained / started (0 when none started); likewise the other rates.
    pub containment_rate: f64,
    pub handoff_rate: f64,
    pub abandonment_rate: f64,
    /// User messages.
    pub turns: i64,
    pub turns_per_conversation: f64,
    /// In millionths of the currency.
    pub cost_micros: i64,
    pub cost_per_conversation_micros: f64,
    pub first_reply_ms: Percentiles,
    pub turn_latency_ms: Percentiles,
}

/// A flow state's metrics over the whole filtered range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct StateMetrics {
    pub state: String,
    pub visits: i64,
    pub answers: i64,
    pub reprompts: i64,
    /// reprompts / answers.
    pub reprompt_rate: f64,
    pub fallbacks: i64,
    /// fallbacks / visits.
    pub fallback_rate: f64,
    /// Abandoned conversations that were waiting here.
    pub dropoffs: i64,
    /// dropoffs / visits.
    pub dropoff_rate: f64,
    pub cost_micros: i64,
}

/// One group of the report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Group {
    /// The day (`YYYY-MM-DD`), flow id, version or channel.
    pub key: String,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// The report's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    pub total: Metrics,
    /// In key order (days in date order); empty for `group_by=state`.
    pub groups: Vec<Group>,
    /// Per state, the most visited first.
    pub states: Vec<StateMetrics>,
}

/// Sums being added up, before rates.
#[derive(Default)]
struct Sums {
    started: i64,
    contained: i64,
    handed_off: i64,
    abandoned: i64,
    turns: i64,
    cost_micros: i64,
    first_reply: Histogram,
    turn_latency: Histogram,
}

fn rate(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        part as f64 / whole as f64
    } else {
        0.0
    }
}

impl Sums {
    fn add(&mut self, row: &GroupSums) {
        self.started += row.started;
        self.contained += row.contained;
        self.handed_off += row.handed_off;
        self.abandoned += row.abandoned;
        self.turns += row.turns;
        self.cost_micros += row.cost_micros;
    }

    fn add_latency(&mut self, row: &LatencySums) {
        let histogram = match row.metric.as_str() {
            "first_reply" => &mut self.first_reply,
            _ => &mut self.turn_latency,
        };
        let bucket = u32::try_from(row.bucket).unwrap_or(0);
        *histogram.entry(bucket).or_default() += row.count;
    }

    fn metrics(&self) -> Metrics {
        let percentiles = |h: &Histogram| Percentiles {
            count: h.values().sum(),
            p50: percentile(h, 0.5),
            p95: percentile(h, 0.95),
        };
        Metrics {
            started: self.started,
            contained: self.contained,
            handed_off: self.handed_off,
            abandoned: self.abandoned,
            containment_rate: rate(self.contained, self.started),
            handoff_rate: rate(self.handed_off, self.started),
            abandonment_rate: rate(self.abandoned, self.started),
            turns: self.turns,
            turns_per_conversation: rate(self.turns, self.started),
            cost_micros: self.cost_micros,
            cost_per_conversation_micros: rate(self.cost_micros, self.started),
            first_reply_ms: percentiles(&self.first_reply),
            turn_latency_ms: percentiles(&self.turn_latency),
        }
    }
}

/// `YYYY-MM-DD` of a day number (days since the Unix epoch).
pub fn day_text(day: i64) -> String {
    const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
    i32::try_from(day + UNIX_EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|julian| time::Date::from_julian_day(julian).ok())
        .map(|date| date.to_string())
        .unwrap_or_default()
}

/// A group's key, ordered: days and versions as numbers, the rest as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum GroupKey {
    Number(i64),
    Text(String),
}

fn key_of(grouping: Grouping, key: &str) -> GroupKey {
    match grouping {
        Grouping::Day | Grouping::Version => key
            .parse()
            .map_or_else(|_| GroupKey::Text(key.to_owned()), GroupKey::Number),
        _ => GroupKey::Text(key.to_owned()),
    }
}

/// Adds the store's group sums up into the report's figures.
pub fn build(
    groups: &[GroupSums],
    states: &[StateSums],
    latency: &[LatencySums],
    grouping: Grouping,
) -> Figures {
    let mut total = Sums::default();
    let mut by_key: BTreeMap<GroupKey, Sums> = BTreeMap::new();
    for row in groups {
        total.add(row);
        by_key
            .entry(key_of(grouping, &row.key))
            .or_default()
            .add(row);
    }
    for row in latency {
        total.add_latency(row);
        by_key
            .entry(key_of(grouping, &row.key))
            .or_default()
            .add_latency(row);
    }
    let mut states: Vec<StateMetrics> = states
        .iter()
        .map(|row| StateMetrics {
            state: row.state.clone(),
            visits: row.visits,
            answers: row.answers,
            reprompts: row.reprompts,
            reprompt_rate: rate(row.reprompts, row.answers),
            fallbacks: row.fallbacks,
            fallback_rate: rate(row.fallbacks, row.visits),
            dropoffs: row.dropoffs,
            dropoff_rate: rate(row.dropoffs, row.visits),
            cost_micros: row.cost_micros,
        })
        .collect();
    states.sort_by(|a, b| b.visits.cmp(&a.visits).then_with(|| a.state.cmp(&b.state)));
    let groups = if grouping == Grouping::State {
        Vec::new()
    } else {
        by_key
            .into_iter()
            .map(|(key, sums)| Group {
                key: match (grouping, key) {
                    (Grouping::Day, GroupKey::Number(day)) => day_text(day),
                    (_, GroupKey::Number(n)) => n.to_string(),
                    (_, GroupKey::Text(text)) => text,
                },
                metrics: sums.metrics(),
            })
            .collect()
    };
    Figures {
        total: total.metrics(),
        groups,
        states,
    }
}

/// The figures as CSV: one line per group (or per state for `group_by=state`), with a
/// header. Fields are quoted when needed, and a field a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`) is prefixed with `'`.
pub fn to_csv(figures: &Figures, grouping: Grouping) -> String {
    let mut out = String::new();
    if grouping == Grouping::State {
        out.push_str("state,visits,answers,reprompts,reprompt_rate,fallbacks,fallback_rate,dropoffs,dropoff_rate,cost_micros\n");
        for s in &figures.states {
            let fields = [
                field(&s.state),
                s.visits.to_string(),
                s.answers.to_string(),
                s.reprompts.to_string(),
                format!("{:.6}", s.reprompt_rate),
                s.fallbacks.to_string(),
                format!("{:.6}", s.fallback_rate),
                s.dropoffs.to_string(),
                format!("{:.6}", s.dropoff_rate),
                s.cost_micros.to_string(),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        return out;
    }
    out.push_str("key,started,contained,handed_off,abandoned,containment_rate,handoff_rate,abandonment_rate,turns,turns_per_conversation,cost_micros,cost_per_conversation_micros,first_reply_p50_ms,first_reply_p95_ms,turn_latency_p50_ms,turn_latency_p95_ms\n");
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for g in &figures.groups {
        let m = &g.metrics;
        let fields = [
            field(&g.key),
            m.started.to_string(),
            m.contained.to_string(),
            m.handed_off.to_string(),
            m.abandoned.to_string(),
            format!("{:.6}", m.containment_rate),
            format!("{:.6}", m.handoff_rate),
            format!("{:.6}", m.abandonment_rate),
            m.turns.to_string(),
            format!("{:.6}", m.turns_per_conversation),
            m.cost_micros.to_string(),
            format!("{:.2}", m.cost_per_conversation_micros),
            opt(m.first_reply_ms.p50),
            opt(m.first_reply_ms.p95),
            opt(m.turn_latency_ms.p50),
            opt(m.turn_latency_ms.p95),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// One CSV field from text.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_dates_and_csv_fields_are_safe() {
        assert_eq!(day_text(0), "1970-01-01");
        assert_eq!(day_text(20_000), "2024-10-04");
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
