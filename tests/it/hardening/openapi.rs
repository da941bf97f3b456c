//! Defect 4: `GET /v1/openapi.json` is valid OpenAPI 3.1, checked against the official
//! OpenAPI 3.1 JSON Schema (`tests/fixtures/openapi-3.1-schema.json`, the 2022-10-07
//! schema published at spec.openapis.org, as shipped by `openapi-spec-validator`) with
//! the `jsonschema` crate (draft 2020-12).

use serde_json::Value;

use crate::support::{Backend, spawn_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_openapi_3_1() {
    let schema: Value =
        serde_json::from_str(include_str!("../../fixtures/openapi-3.1-schema.json"))
            .expect("the official schema parses");
    let validator = jsonschema::draft202012::new(&schema).expect("the official schema compiles");

    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let doc: Value = reqwest::get(format!("http://{}/v1/openapi.json", node.addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    node.shutdown().await;

    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} violations of OpenAPI 3.1, e.g.:\n{}",
        errors.len(),
        errors
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The validator does see what the defect was about: a response without its
    // required `description` is refused.
    let mut broken = doc.clone();
    let (_, item) = broken["paths"]
        .as_object_mut()
        .unwrap()
        .iter_mut()
        .next()
        .unwrap();
    let operation = item.as_object_mut().unwrap().values_mut().next().unwrap();
    let response = operation["responses"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    response.as_object_mut().unwrap().remove("description");
    assert!(!validator.is_valid(&broken));
}
