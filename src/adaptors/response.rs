//! What a successful response turns into: the body is read with a size cap (checked
//! against `Content-Length` first and again while streaming, since the header may be
//! absent or lie), parsed as JSON, and projected through the spec's `response` map of
//! output field -> JSON pointer. A pointer that finds nothing yields `null`: APIs omit
//! optional fields, and the dialog can branch on a null.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::adaptors::error::{AdaptorError, chain};

/// Reads the whole body of `response`, failing once it exceeds `cap` bytes.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, AdaptorError> {
    let too_big = || AdaptorError::InvalidResponse(format!("response body exceeds {cap} bytes"));
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AdaptorError::Network(format!("reading the response: {}", chain(&e))))?
    {
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a 2xx body as JSON; `204 No Content` counts as an empty object.
pub(crate) fn parse_body(status: u16, body: &[u8]) -> Result<Value, AdaptorError> {
    if status == 204 {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body)
        .map_err(|e| AdaptorError::InvalidResponse(format!("response body is not JSON ({e})")))
}

/// Projects `body` through `mapping`; an empty mapping returns the body itself, which
/// must then be an object.
pub(crate) fn map_response(
    body: Value,
    mapping: &BTreeMap<String, String>,
) -> Result<Value, AdaptorError> {
    if mapping.is_empty() {
        return match body {
            Value::Object(_) => Ok(body),
            _ => Err(AdaptorError::InvalidResponse(
                "response body is not a JSON object (add a `response` mapping to pick values)"
                    .into(),
            )),
        };
    }
    let out: Map<String, Value> = mapping
        .iter()
        .map(|(field, pointer)| {
            let value = body.pointer(pointer).cloned().unwrap_or(Value::Null);
            (field.clone(), value)
        })
        .collect();
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn maps_nested_and_missing_pointers() {
        let body = json!({"status": "shipped", "delivery": {"eta": "2026-01-02"}, "items": [{"sku": "A1"}]});
        let out = map_response(
            body,
            &mapping(&[
                ("status", "/status"),
                ("eta", "/delivery/eta"),
                ("first_sku", "/items/0/sku"),
                ("carrier", "/delivery/carrier"),
                ("bogus", "no-leading-slash"),
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"status": "shipped", "eta": "2026-01-02", "first_sku": "A1", "carrier": null, "bogus": null})
        );
    }

    #[test]
    fn empty_mapping_needs_an_object() {
        let empty = BTreeMap::new();
        assert_eq!(
            map_response(json!({"a": 1}), &empty).unwrap(),
            json!({"a": 1})
        );
        assert!(matches!(
            map_response(json!([1, 2]), &empty),
            Err(AdaptorError::InvalidResponse(_))
        ));
    }

    #[test]
    fn parses_json_and_no_content() {
        assert_eq!(parse_body(200, b" {\"a\": 1} ").unwrap(), json!({"a": 1}));
        assert_eq!(parse_body(204, b"").unwrap(), json!({}));
        assert!(matches!(
            parse_body(200, b"<html>"),
            Err(AdaptorError::InvalidResponse(_))
        ));
        assert!(matches!(
            parse_body(200, b""),
            Err(AdaptorError::InvalidResponse(_))
        ));
        let deep = "[".repeat(100_000);
        assert!(parse_body(200, deep.as_bytes()).is_err());
    }
}
