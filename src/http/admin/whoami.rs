//! `GET /v1/admin/whoami`: who the presented key is (operator, or a tenant key with its
//! role). The admin console asks this right after sign-in to decide which views and
//! buttons to show; the server still checks every request on its own, so hiding a
//! button is a convenience, never the protection.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(whoami);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// True for the operator's bootstrap key, which acts as owner of every tenant.
    pub operator: bool,
    /// The key's tenant; null for the operator.
    pub tenant: Option<String>,
    /// `viewer`, `editor` or `owner` (`owner` for the operator).
    pub role: String,
    /// The key's id, as the audit log names it (`key:<id>`); null for the operator.
    pub key_id: Option<String>,
}

#[utoipa::path(tag = "keys",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
#[get("/whoami")]
async fn whoami(principal: Principal) -> Result<web::Json<WhoAmI>, ApiError> {
    Ok(web::Json(match principal {
        Principal::Operator => WhoAmI {
            operator: true,
            tenant: None,
            role: "owner".into(),
            key_id: None,
        },
        Principal::Key {
            tenant_id,
            key_id,
            role,
        } => WhoAmI {
            operator: false,
            tenant: Some(tenant_id),
            role: role.as_str().into(),
            key_id: Some(key_id),
        },
    }))
}
