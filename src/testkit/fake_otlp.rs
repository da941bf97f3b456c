//! A fake OpenTelemetry collector: `POST /v1/traces` with an OTLP/HTTP protobuf body
//! (`ExportTraceServiceRequest`), decoded with the protocol's own generated types and kept
//! as plain [`ReceivedSpan`]s, so tests can check what a node exports.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

use super::server::{FakeServer, lock};

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    /// The resource's `service.name`.
    pub service: String,
    /// Attributes whose values are scalars, as text.
    pub attributes: BTreeMap<String, String>,
    /// Hex.
    pub trace_id: String,
    /// Hex; empty for a root span.
    pub parent_span_id: String,
}

#[derive(Default)]
struct Shared {
    spans: Mutex<Vec<ReceivedSpan>>,
    requests: Mutex<Vec<BTreeMap<String, String>>>,
}

pub struct FakeCollector {
    /// `http://127.0.0.1:PORT`, the value of `telemetry.otlp.endpoint`.
    pub endpoint: String,
    shared: Arc<Shared>,
    _server: FakeServer,
}

impl FakeCollector {
    pub fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let state = web::Data::from(shared.clone());
        let server = FakeServer::start("fake-otlp", move |cfg| {
            cfg.app_data(state.clone())
                .route("/v1/traces", web::post().to(traces));
        })?;
        Ok(Self {
            endpoint: format!("http://{}", server.addr()),
            shared,
            _server: server,
        })
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.shared.spans).clone()
    }

    /// The headers of every export request (lower-case names).
    pub fn request_headers(&self) -> Vec<BTreeMap<String, String>> {
        lock(&self.shared.requests).clone()
    }
}

async fn traces(
    state: web::Data<Shared>,
    req: actix_web::HttpRequest,
    body: Bytes,
) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    lock(&state.requests).push(headers);
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return HttpResponse::build(StatusCode::BAD_REQUEST).body("not an OTLP trace export");
    };
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| attribute(&r.attributes, "service.name"))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(ReceivedSpan {
                    name: span.name,
                    service: service.clone(),
                    attributes: span
                        .attributes
                        .iter()
                        .filter_map(|kv| Some((kv.key.clone(), text(kv.value.as_ref()?)?)))
                        .collect(),
                    trace_id: hex::encode(&span.trace_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                });
            }
        }
    }
    lock(&state.spans).extend(spans);
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .body(ExportTraceServiceResponse::default().encode_to_vec())
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()?))
}

fn text(value: &AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}
