//! The admin API under `/v1/admin`: JSON over HTTP, Bearer API keys, one file per
//! resource. Routes are collected with utoipa-actix-web, so the OpenAPI 3.1 document
//! served at `/v1/openapi.json` is generated from the same handlers that serve them.
//!
//! Tenant resources live under `/v1/admin/tenants/{tenant}/…`; a key of another tenant
//! gets 404 there. Every successful write is recorded in the audit log.

pub mod auth;
pub mod error;

mod adaptors;
mod agents;
mod alerts;
mod analytics;
mod audit;
mod budgets;
mod channels;
mod compiling;
pub(crate) mod conversations;
mod erasure;
mod experiments;
mod flow_versions;
mod flows;
mod graph;
mod keys;
mod knowledge;
mod model_gateway;
mod model_limits;
mod model_providers;
mod presence;
mod previews;
mod retention;
pub use keys::create as create_key;
mod simulate;
mod tenants;
mod test_cases;
mod usage;
mod whoami;
mod widget;

use std::sync::Arc;

use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::actors::Runtime;
use crate::channels::delivery::ChannelHub;
use crate::config::Config;
use crate::secret_box::SecretBox;
use crate::store::Store;
use auth::Principal;
use error::ApiError;

/// What the admin handlers share.
pub struct AdminContext {
    pub runtime: Runtime,
    pub config: Arc<Config>,
    /// SHA-256 of the bootstrap key, when one is configured.
    pub bootstrap_key_digest: Option<[u8; 32]>,
    /// Encrypts adaptor and channel secrets at rest.
    pub secrets: Arc<SecretBox>,
    /// Told when a channel account changes, so its sender reloads.
    pub hub: ChannelHub,
    /// Signs preview tickets (the web chat verifies them with the same key).
    pub tokens: Arc<crate::channels::webchat::visitor_token::VisitorTokens>,
}

impl AdminContext {
    pub fn store(&self) -> &Store {
        &self.runtime.services().store
    }

    /// A flow's active version changed (or the flow is gone): every node must see it now.
    pub async fn flow_activated(&self, tenant_id: &str, flow_id: &str) {
        let services = self.runtime.services();
        services.flows.forget_active(tenant_id, flow_id);
        services
            .cluster
            .announce_activation(tenant_id, flow_id)
            .await;
    }

    /// Records a successful write. A failure to audit is logged, not hidden.
    pub async fn audit(
        &self,
        principal: &Principal,
        tenant_id: &str,
        action: &str,
        target: &str,
        details: Value,
    ) -> Result<(), ApiError> {
        self.store()
            .audit(tenant_id, &principal.actor(), action, target, &details)
            .await
            .map_err(ApiError::from)
    }

    /// The tenant row, or 404.
    pub async fn tenant(&self, tenant_id: &str) -> Result<crate::store::TenantRow, ApiError> {
        self.store()
            .tenant(tenant_id)
            .await?
            .ok_or(ApiError::NotFound { what: "tenant" })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard admin API",
        version = "1",
        description = "Tenants, API keys, flows and their versions, adaptors, simulation, conversations, model usage and the audit log."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `/v1/admin` scope with every admin route. `cors_origins` may call it from
/// browsers on other origins; any other origin gets no CORS headers (the browser then
/// refuses the response), and same-origin calls (the console) need none.
pub fn scope(
    max_body_bytes: usize,
    cors_origins: Vec<String>,
) -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<
            actix_web::body::EitherBody<actix_web::body::BoxBody>,
        >,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope::scope("/v1/admin")
        .app_data(error::json_config(max_body_bytes))
        .app_data(error::query_config())
        .app_data(error::path_config())
        .wrap(actix_web::middleware::from_fn(crate::http::nul::admin_body))
        .wrap(cors(&cors_origins))
        .configure(tenants::routes)
        .configure(keys::routes)
        .configure(flows::routes)
        .configure(flow_versions::routes)
        .configure(test_cases::routes)
        .configure(previews::routes)
        .configure(adaptors::routes)
        .configure(simulate::routes)
        .configure(conversations::routes)
        .configure(erasure::routes)
        .configure(retention::routes)
        .configure(audit::routes)
        .configure(channels::routes)
        .configure(presence::routes)
        .configure(agents::routes)
        .configure(widget::routes)
        .configure(whoami::routes)
        .configure(graph::routes)
        .configure(usage::routes)
        .configure(analytics::routes)
        .configure(experiments::routes)
        .configure(budgets::routes)
        .configure(alerts::routes)
        .configure(model_gateway::routes)
        .configure(model_limits::routes)
        .configure(model_providers::routes)
        .configure(knowledge::routes)
        .default_service(actix_web::web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::NotFound { what: "route" })
        }))
}

/// CORS for the configured origins: credentials travel as a bearer token (never cookies),
/// so no `Allow-Credentials`; the ETag and request id are readable by the page.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let cors = origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        });
    cors.allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::IF_MATCH,
            actix_web::http::header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            actix_web::http::header::ETAG,
            actix_web::http::header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600)
        .block_on_origin_mismatch(false)
}

/// The OpenAPI 3.1 document of the admin API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, mut api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope(1, Vec::new()))
        .service(crate::http::agent::scope(1))
        .split_for_parts();
    api.info.title = "Switchboard admin API".into();
    describe_responses(&mut api);
    api
}

/// OpenAPI 3.1 requires a `description` on every response object. Handlers describe
/// the responses that need more words; every other one gets what its status means in
/// this API, so no response can be left without one.
fn describe_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.trim().is_empty()
                {
                    response.description = status_description(status).into();
                }
            }
        }
    }
}

/// What a status means in the admin API (docs/admin-api.md, "Errors").
fn status_description(status: &str) -> &'static str {
    match status {
        "200" => "success",
        "201" => "created",
        "204" => "done; no content",
        "400" => {
            "invalid request: malformed body, bad value, path or query (`invalid_request`), or U+0000 in text (`invalid_text`)"
        }
        "401" => "missing or invalid API key",
        "403" => "this key's role may not do that",
        "404" => "not found, or of another tenant",
        "409" => "conflict with the current state",
        "412" => "`If-Match` does not match the current ETag",
        "413" => "request body larger than `admin.max_body_bytes`",
        "415" => "unsupported content type",
        "422" => "validation failed; `details` says why",
        "503" => "unavailable or busy; retry after `Retry-After`",
        _ => "see the error body",
    }
}
