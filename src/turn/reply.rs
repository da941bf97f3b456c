//! [`Reply`]: a conversation's answer to a [`super::Command`], and the turn errors.

use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// A message is stored under `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub message_id: String,
    pub seq: i64,
    /// True when this dedup key had been stored before and this is that earlier message.
    pub duplicate: bool,
}

/// Why a conversation could not do what it was asked. Edges map these to their public
/// codes with an exhaustive match.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnError {
    #[error("the message could not be stored; it was not accepted")]
    Store,
    #[error("the conversation is temporarily unavailable")]
    Unavailable,
    #[error("the conversation does not exist")]
    NotFound,
    #[error("the conversation is not with a human agent")]
    NotInHumanMode,
    /// A release named a state the conversation's flow does not have.
    #[error("the conversation's flow has no such state")]
    NoSuchState,
    /// A take-over of a conversation that has not started or has ended.
    #[error("the conversation is not running")]
    NotRunning,
    /// Web chat: the flow ended; a new message needs a new conversation.
    #[error("the conversation has ended; start a new one")]
    Ended,
    /// Cluster mode: another node owns the conversation now; the router tries again.
    #[error("the conversation moved to another node")]
    Moved,
    /// Cluster mode: Redis is unreachable, so no node may take the conversation on.
    #[error("the cluster cannot assign this conversation while Redis is unreachable")]
    ClusterUnavailable,
}

impl TurnError {
    /// How a failed store write is reported to the one who asked.
    pub fn of_store(error: &StoreError) -> Self {
        match error {
            StoreError::Fenced { .. } => TurnError::Moved,
            _ => TurnError::Store,
        }
    }
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// A message was stored (user and agent messages).
    Ack(Ack),
    /// The command was carried out (or accepted, for fire-and-forget commands).
    Done,
    Failed {
        error: TurnError,
    },
}

impl Reply {
    /// The ack of a message command.
    pub fn into_ack(self) -> Result<Ack, TurnError> {
        match self {
            Reply::Ack(ack) => Ok(ack),
            Reply::Failed { error } => Err(error),
            Reply::Done => Err(TurnError::Unavailable),
        }
    }

    /// The outcome of a command answered without a message.
    pub fn into_done(self) -> Result<(), TurnError> {
        match self {
            Reply::Done | Reply::Ack(_) => Ok(()),
            Reply::Failed { error } => Err(error),
        }
    }
}

impl From<TurnError> for Reply {
    fn from(error: TurnError) -> Self {
        Reply::Failed { error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_survive_the_trip_between_nodes() {
        for reply in [
            Reply::Ack(Ack {
                message_id: "m".into(),
                seq: 3,
                duplicate: true,
            }),
            Reply::Done,
            Reply::Failed {
                error: TurnError::Moved,
            },
        ] {
            let json = serde_json::to_string(&reply).unwrap();
            assert_eq!(serde_json::from_str::<Reply>(&json).unwrap(), reply);
        }
        assert_eq!(
            Reply::Failed {
                error: TurnError::NotFound
            }
            .into_ack(),
            Err(TurnError::NotFound)
        );
    }
}
