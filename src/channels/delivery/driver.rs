//! What a reply becomes on each provider. Planning is synchronous and separate from the
//! calls, so the sender can retry one call without redoing the others:
//!
//! - **WhatsApp** has no streaming: each finished paragraph of an LLM reply is sent as
//!   its own message while the reply streams, and the final text sends only what is left
//!   (split at 4096 characters).
//! - **Slack** posts the reply in the thread once the first tokens arrive, then edits it
//!   (`chat.update`) at most once per `stream_update_interval_ms`, and finally sets the
//!   full text.
//! - **Teams** streams in 1:1 chats with `streaminfo` entities (informative, streaming,
//!   final); group chats and channels get the final message only. A typing indicator
//!   shows while the bot works.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::channels::inbound::{Provider, SendError};
use crate::channels::{slack, teams, whatsapp};
use crate::config::ChannelsConfig;
use crate::secret_box::SecretBox;
use crate::store::ChannelAccountRow;

/// A configured provider client for one channel account.
pub enum Driver {
    Whatsapp {
        client: whatsapp::WhatsappClient,
    },
    Slack {
        client: slack::SlackClient,
        interval: Duration,
    },
    Teams {
        connector: teams::ConnectorClient,
        interval: Duration,
    },
}

/// Actor-side streaming state of one reply in progress.
pub enum Streaming {
    Whatsapp(whatsapp::ParagraphStreamer),
    Slack(slack::UpdateThrottle),
    Teams(Box<teams::TeamsStreamer>),
}

/// What the provider already shows of one reply (updated after each successful call).
#[derive(Debug, Clone, Default)]
pub struct Remote {
    /// Slack: the `ts` of our message, once posted.
    pub slack_ts: Option<String>,
    /// Teams: the stream id (the id of the first streaming activity).
    pub stream_id: Option<String>,
    /// WhatsApp: paragraphs already sent while streaming.
    pub sent_paragraphs: Vec<String>,
}

/// A progressive update derived from deltas.
pub enum Update {
    Paragraphs(Vec<String>),
    Text(String),
    Activity(teams::OutboundActivity),
}

impl Update {
    /// Merges a newer update into a queued one (the queue keeps one per reply).
    pub fn coalesce(&mut self, newer: Update) {
        match (self, newer) {
            (Update::Paragraphs(queued), Update::Paragraphs(more)) => queued.extend(more),
            (slot, newer) => *slot = newer,
        }
    }
}

/// One provider call.
pub enum Call {
    WhatsappText {
        phone_number_id: String,
        to: String,
        text: String,
        paragraph: bool,
    },
    /// An approved template instead of text (outside the 24-hour window).
    WhatsappTemplate {
        phone_number_id: String,
        to: String,
        name: String,
        language: String,
    },
    SlackPost {
        channel: String,
        thread_ts: Option<String>,
        text: String,
    },
    SlackUpdate {
        channel: String,
        ts: String,
        text: String,
    },
    TeamsActivity {
        target: teams::ReplyTarget,
        activity: teams::OutboundActivity,
        streaming: bool,
    },
}

impl Remote {
    /// Notes what a successful call changed.
    pub fn record(&mut self, call: &Call, id: Option<String>) {
        match call {
            Call::WhatsappText {
                text,
                paragraph: true,
                ..
            } => self.sent_paragraphs.push(text.clone()),
            Call::SlackPost { .. } => self.slack_ts = id,
            Call::TeamsActivity {
                streaming: true, ..
            } if self.stream_id.is_none() => self.stream_id = id,
            _ => {}
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    #[error("the account's secrets cannot be read: {0}")]
    Secrets(String),
    #[error("the account's settings are invalid: {0}")]
    Config(String),
}

#[derive(Deserialize)]
struct WhatsappSecrets {
    access_token: String,
}

#[derive(Deserialize)]
struct SlackSecrets {
    bot_token: String,
}

#[derive(Deserialize)]
struct TeamsSecrets {
    app_password: String,
}

#[derive(Deserialize)]
struct TeamsSettings {
    app_id: String,
}

/// The decrypted secrets of an account, as JSON.
pub fn account_secrets(row: &ChannelAccountRow, secrets: &SecretBox) -> Result<Value, DriverError> {
    let plain = secrets
        .open(&row.secrets_encrypted)
        .map_err(|e| DriverError::Secrets(e.to_string()))?;
    serde_json::from_str(&plain).map_err(|e| DriverError::Secrets(e.to_string()))
}

impl Driver {
    pub fn from_account(
        row: &ChannelAccountRow,
        secrets: &SecretBox,
        config: &ChannelsConfig,
    ) -> Result<Self, DriverError> {
        let secret_json = account_secrets(row, secrets)?;
        let bad = |e: serde_json::Error| DriverError::Config(e.to_string());
        let interval = Duration::from_millis(config.stream_update_interval_ms);
        match row.provider.as_str() {
            "whatsapp" => {
                let s: WhatsappSecrets = serde_json::from_value(secret_json).map_err(bad)?;
                let client = whatsapp::WhatsappClient::new(whatsapp::WhatsappConfig::new(
                    config.whatsapp_base_url.clone(),
                    config.whatsapp_api_version.clone(),
                    s.access_token,
                ))
                .map_err(|e| DriverError::Config(e.to_string()))?;
                Ok(Driver::Whatsapp { client })
            }
            "slack" => {
                let s: SlackSecrets = serde_json::from_value(secret_json).map_err(bad)?;
                let client = slack::SlackClient::new(slack::SlackConfig::new(
                    config.slack_base_url.clone(),
                    s.bot_token,
                ))
                .map_err(|e| DriverError::Config(e.to_string()))?;
                Ok(Driver::Slack { client, interval })
            }
            "teams" => {
                let s: TeamsSecrets = serde_json::from_value(secret_json).map_err(bad)?;
                let settings: TeamsSettings = serde_json::from_str(&row.config).map_err(bad)?;
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| DriverError::Config(e.to_string()))?;
                let mut token_config =
                    teams::TokenConfig::new(settings.app_id, teams::Secret::new(s.app_password));
                token_config.token_url = config.teams_token_url.clone();
                let tokens = teams::TokenClient::new(http.clone(), token_config);
                Ok(Driver::Teams {
                    connector: teams::ConnectorClient::new(http, tokens),
                    interval,
                })
            }
            other => Err(DriverError::UnknownProvider(other.to_string())),
        }
    }

    pub fn provider(&self) -> Provider {
        match self {
            Driver::Whatsapp { .. } => Provider::Whatsapp,
            Driver::Slack { .. } => Provider::Slack,
            Driver::Teams { .. } => Provider::Teams,
        }
    }

    pub fn start_stream(&self, reply_to: &Value) -> Streaming {
        match self {
            Driver::Whatsapp { .. } => Streaming::Whatsapp(whatsapp::ParagraphStreamer::new()),
            Driver::Slack { interval, .. } => {
                Streaming::Slack(slack::UpdateThrottle::new(*interval))
            }
            Driver::Teams { interval, .. } => {
                let kind = teams::ReplyTarget::from_reply_to(reply_to)
                    .map(|t| {
                        if t.is_personal() {
                            "personal".to_string()
                        } else {
                            "channel".to_string()
                        }
                    })
                    .unwrap_or_else(|_| "channel".into());
                Streaming::Teams(Box::new(teams::TeamsStreamer::new(&kind, *interval)))
            }
        }
    }

    pub fn on_delta(
        &self,
        streaming: &mut Streaming,
        fragment: &str,
        now: Instant,
    ) -> Option<Update> {
        match streaming {
            Streaming::Whatsapp(paragraphs) => {
                let done = paragraphs.push(fragment);
                (!done.is_empty()).then_some(Update::Paragraphs(done))
            }
            Streaming::Slack(throttle) => throttle.push(fragment, now).map(Update::Text),
            Streaming::Teams(streamer) => streamer.push(fragment, now).map(Update::Activity),
        }
    }

    pub fn plan_update(&self, reply_to: &Value, remote: &Remote, update: &Update) -> Vec<Call> {
        match (self, update) {
            (Driver::Whatsapp { .. }, Update::Paragraphs(paragraphs)) => {
                whatsapp_calls(reply_to, paragraphs, true)
            }
            (Driver::Slack { .. }, Update::Text(text)) => {
                slack_call(reply_to, remote, text).into_iter().collect()
            }
            (Driver::Teams { .. }, Update::Activity(activity)) => {
                let Ok(target) = teams::ReplyTarget::from_reply_to(reply_to) else {
                    return Vec::new();
                };
                vec![Call::TeamsActivity {
                    target,
                    activity: with_stream_id(activity.clone(), remote),
                    streaming: true,
                }]
            }
            _ => Vec::new(),
        }
    }

    /// The call that sends an approved WhatsApp template (`{name, language}` JSON, as
    /// the outbox keeps it); none on other providers or for a damaged value.
    pub fn plan_template(&self, reply_to: &Value, template: &str) -> Vec<Call> {
        let Driver::Whatsapp { .. } = self else {
            return Vec::new();
        };
        let Ok(template) =
            serde_json::from_str::<crate::dialog::definition::WhatsappTemplateDef>(template)
        else {
            return Vec::new();
        };
        let (Some(to), Some(phone_number_id)) = (
            reply_to["to"].as_str(),
            reply_to["phone_number_id"].as_str(),
        ) else {
            return Vec::new();
        };
        vec![Call::WhatsappTemplate {
            phone_number_id: phone_number_id.to_owned(),
            to: to.to_owned(),
            name: template.name,
            language: template.language,
        }]
    }

    /// The calls that deliver a stored reply, given what streaming already showed.
    pub fn plan_final(
        &self,
        reply_to: &Value,
        streaming: Option<Streaming>,
        remote: &Remote,
        text: &str,
    ) -> Vec<Call> {
        match self {
            Driver::Whatsapp { .. } => {
                if remote.sent_paragraphs.is_empty() {
                    return whatsapp_calls(reply_to, &[text.to_string()], false);
                }
                // Send the paragraphs streaming has not sent yet.
                let paragraphs: Vec<String> = text
                    .split("\n\n")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect();
                let rest: Vec<String> = paragraphs
                    .into_iter()
                    .skip(remote.sent_paragraphs.len())
                    .collect();
                whatsapp_calls(reply_to, &rest, false)
            }
            Driver::Slack { .. } => slack_call(reply_to, remote, text).into_iter().collect(),
            Driver::Teams { interval, .. } => {
                let Ok(target) = teams::ReplyTarget::from_reply_to(reply_to) else {
                    return Vec::new();
                };
                let streamer = match streaming {
                    Some(Streaming::Teams(streamer)) => *streamer,
                    _ => teams::TeamsStreamer::new(
                        if target.is_personal() {
                            "personal"
                        } else {
                            "channel"
                        },
                        *interval,
                    ),
                };
                let mut streamer = streamer;
                if let Some(id) = &remote.stream_id {
                    streamer.set_stream_id(id.clone());
                }
                // The final text is the stored one, whatever the deltas said.
                let activity = streamer.finish().with_text(text.to_string());
                vec![Call::TeamsActivity {
                    target,
                    activity,
                    streaming: false,
                }]
            }
        }
    }

    pub async fn execute(&self, call: &Call) -> Result<Option<String>, SendError> {
        match (self, call) {
            (
                Driver::Whatsapp { client },
                Call::WhatsappText {
                    phone_number_id,
                    to,
                    text,
                    ..
                },
            ) => client.send_text(phone_number_id, to, text).await.map(Some),
            (
                Driver::Whatsapp { client },
                Call::WhatsappTemplate {
                    phone_number_id,
                    to,
                    name,
                    language,
                },
            ) => client
                .send_template(phone_number_id, to, name, language)
                .await
                .map(Some),
            (
                Driver::Slack { client, .. },
                Call::SlackPost {
                    channel,
                    thread_ts,
                    text,
                },
            ) => client
                .post_message(channel, thread_ts.as_deref(), text)
                .await
                .map(Some),
            (Driver::Slack { client, .. }, Call::SlackUpdate { channel, ts, text }) => client
                .update_message(channel, ts, text)
                .await
                .map(|()| Some(ts.clone())),
            (
                Driver::Teams { connector, .. },
                Call::TeamsActivity {
                    target, activity, ..
                },
            ) => connector.send_activity(target, activity).await.map(Some),
            _ => Err(SendError::Permanent(
                "call does not match the provider".into(),
            )),
        }
    }

    /// A typing indicator where the provider has one (Teams).
    pub async fn typing(&self, reply_to: &Value) -> Result<(), SendError> {
        match self {
            Driver::Teams { connector, .. } => {
                let target = teams::ReplyTarget::from_reply_to(reply_to)?;
                connector
                    .send_activity(&target, &teams::OutboundActivity::typing())
                    .await
                    .map(|_| ())
            }
            _ => Ok(()),
        }
    }
}

fn whatsapp_calls(reply_to: &Value, texts: &[String], paragraph: bool) -> Vec<Call> {
    let (Some(to), Some(phone_number_id)) = (
        reply_to["to"].as_str(),
        reply_to["phone_number_id"].as_str(),
    ) else {
        return Vec::new();
    };
    let mut calls = Vec::new();
    for text in texts {
        let parts = whatsapp::split_text(text, 4096);
        let single = parts.len() == 1;
        for part in parts {
            calls.push(Call::WhatsappText {
                phone_number_id: phone_number_id.to_string(),
                to: to.to_string(),
                // Only a paragraph sent whole counts as sent for the final's bookkeeping.
                paragraph: paragraph && single,
                text: part,
            });
        }
    }
    calls
}

fn slack_call(reply_to: &Value, remote: &Remote, text: &str) -> Option<Call> {
    let channel = reply_to["channel"].as_str()?.to_string();
    Some(match &remote.slack_ts {
        Some(ts) => Call::SlackUpdate {
            channel,
            ts: ts.clone(),
            text: text.to_string(),
        },
        None => Call::SlackPost {
            channel,
            thread_ts: reply_to["thread_ts"].as_str().map(str::to_string),
            text: text.to_string(),
        },
    })
}

/// Fills in the stream id (learnt from the first streaming send) on a later chunk that
/// was planned before the id was known.
fn with_stream_id(activity: teams::OutboundActivity, remote: &Remote) -> teams::OutboundActivity {
    match (&remote.stream_id, activity.stream_info()) {
        (Some(id), Some(info)) if info.get("streamId").is_none() => {
            let mut info = info.clone();
            info["streamId"] = Value::String(id.clone());
            let mut rebuilt = match activity.kind() {
                "typing" => teams::OutboundActivity::typing(),
                _ => teams::OutboundActivity::message(""),
            };
            if let Some(text) = activity.text() {
                rebuilt = rebuilt.with_text(text.to_string());
            }
            rebuilt.with_entity(info)
        }
        _ => activity,
    }
}
