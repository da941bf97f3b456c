//! `GET /v1/admin/model-gateway` (operator): the model gateway's providers (names and
//! kinds, never keys), its routes, and the state of every circuit breaker on this node.

use actix_web::{get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use crate::llm::GatewayStatus;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(status);
}

#[utoipa::path(tag = "usage",
    responses((status = 200, body = GatewayStatus), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
#[get("/model-gateway")]
async fn status(
    ctx: web::Data<AdminContext>,
    principal: Principal,
) -> Result<web::Json<GatewayStatus>, ApiError> {
    principal.require_operator()?;
    Ok(web::Json(ctx.runtime.services().llm.status()))
}
