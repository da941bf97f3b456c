//! `POST /v1/admin/tenants/{tenant}/flows/{flow}/graph`: a flow's states and
//! transitions for drawing (`dialog::outline`): each state with its line and whether it
//! is reachable, each transition with its condition. The body is the flow to draw (what
//! the console's editor holds right now); an empty body draws the saved draft. A source
//! that does not parse gets 422 with the parser's diagnostics, as `validate` words them.

use actix_web::{HttpRequest, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use super::flows::{flow_body, read_body};
use crate::dialog::{self, Outline};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(flow_graph);
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    request_body(content = String, content_type = "application/yaml", description = "optional: the flow to draw instead of the saved draft"),
    responses((status = 200, body = Object, description = "`{id, start, nodes: [{name, kind, line, column, start, reachable, interrupt}], edges: [{from, to, label, known}], interrupts: [{to, label}]}`"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the source does not parse; details hold the diagnostics")))]
#[post("/tenants/{tenant}/flows/{flow}/graph")]
async fn flow_graph(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<Outline>, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let body = read_body(&ctx, payload).await?;
    ctx.tenant(&tenant_id).await?;
    let source = if body.is_empty() {
        ctx.store()
            .flow(&tenant_id, &flow_id)
            .await?
            .ok_or(ApiError::NotFound { what: "flow" })?
            .draft_source
            .ok_or(ApiError::NotFound { what: "draft" })?
    } else {
        flow_body(&req, &body)?
    };
    let file = format!("{flow_id}.yaml");
    dialog::outline(&source)
        .map(web::Json)
        .map_err(|diagnostics| {
            let diagnostics: Vec<_> = diagnostics
                .into_iter()
                .map(|mut d| {
                    d.file.clone_from(&file);
                    d
                })
                .collect();
            ApiError::Validation {
                message: "the flow does not parse, so it cannot be drawn".into(),
                details: serde_json::json!({ "diagnostics": diagnostics }),
            }
        })
}
