//! The agent API under `/v1/agent` (docs/agents.md): what a human agent's tools call,
//! signed in with the agent's own token (`Authorization: Bearer sba_…`). An agent sees
//! only the conversations assigned to it or waiting in its queues; any other is "not
//! found". The live side (inbox changes, the conversations' events, typing) is the
//! agent WebSocket, `GET /v1/agent/ws` (`crate::agents::socket`).

mod conversations;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use super::admin::AdminContext;
use super::admin::error::{self, ApiError};
use crate::agents::actions::ActionError;
use crate::store::AgentRow;
use crate::turn::TurnError;

/// The signed-in agent.
pub struct SignedIn(pub AgentRow);

impl FromRequest for SignedIn {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        let ctx = req.app_data::<web::Data<AdminContext>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(ctx)) = (token, ctx) else {
                return Err(ApiError::Unauthorized);
            };
            crate::agents::token::authenticate(ctx.store(), &token)
                .await?
                .map(SignedIn)
                .ok_or(ApiError::Unauthorized)
        })
    }
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> Self {
        match error {
            ActionError::NotFound => ApiError::NotFound {
                what: "conversation",
            },
            ActionError::NoSuchAgent => ApiError::NotFound { what: "agent" },
            ActionError::AssignedElsewhere => {
                ApiError::Conflict("the conversation is assigned to another agent".into())
            }
            ActionError::AtCapacity => {
                ApiError::Conflict("you are at capacity; resolve or transfer one first".into())
            }
            ActionError::Invalid(message) => ApiError::bad_request(message),
            ActionError::Turn(TurnError::NotInHumanMode) => {
                ApiError::Conflict("the conversation is back with the bot".into())
            }
            ActionError::Turn(turn) => super::admin::conversations::handoff_error(turn),
            ActionError::Store(store) => store.into(),
            ActionError::Unavailable => ApiError::Unavailable,
        }
    }
}

/// The `/v1/agent` scope.
pub fn scope(
    max_body_bytes: usize,
) -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope::scope("/v1/agent")
        .app_data(error::json_config(max_body_bytes))
        .app_data(error::query_config())
        .app_data(error::path_config())
        .configure(conversations::routes)
        .default_service(actix_web::web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::NotFound { what: "route" })
        }))
}
