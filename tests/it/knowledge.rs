//! Knowledge bases (issue #17) over the admin API, on both stores: upload, chunk, embed
//! (through the gateway, metered), search; a change is visible to the next search with
//! no stale chunk; unchanged content is not embedded again; another tenant's key finds
//! nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::admin::Admin;
use crate::support::{Backend, eventually, spawn_server};

on_both_stores!(documents_are_added_updated_and_removed_with_no_stale_chunk);
on_both_stores!(another_tenants_key_finds_nothing);
on_both_stores!(a_pdf_is_uploaded_page_by_page_and_a_broken_one_is_refused);

const RETURNS_V1: &str = "# Returns\n\nYou can return any item within 30 days of delivery. \
    The refund goes back to the card you paid with.\n\n## Shipping costs\n\n\
    Return shipping is free for members; everyone else pays a flat fee of 4 euros.\n";
const RETURNS_V2: &str = "# Returns\n\nYou can return any item within 60 days of delivery. \
    The refund goes back to the card you paid with.\n";
const HOURS_HTML: &str = "<h1>Opening hours</h1><p>Our support desk is open Monday to Friday, \
    from 9 in the morning until 6 in the evening.</p>";

async fn search(admin: &Admin, tenant: &str, query: &str) -> Vec<Value> {
    let reply = admin
        .post(
            &format!("/v1/admin/tenants/{tenant}/knowledge/search"),
            json!({ "query": query, "knowledge_bases": ["help"] }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["hits"].as_array().unwrap().clone()
}

async fn embed_calls(admin: &Admin, tenant: &str) -> i64 {
    let usage = admin
        .get(&format!("/v1/admin/tenants/{tenant}/usage?group_by=model"))
        .await;
    assert_eq!(usage.status, 200, "{:?}", usage.body);
    usage.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["key"] == "offline-embedding")
        .map(|g| g["calls"].as_i64().unwrap())
        .sum()
}

/// Waits until the metered embedding calls reach `expected` (metering is batched), then
/// checks they stay there.
async fn expect_embed_calls(admin: &Admin, tenant: &str, expected: i64) {
    eventually(Duration::from_secs(10), || async {
        embed_calls(admin, tenant).await >= expected
    })
    .await;
    assert_eq!(embed_calls(admin, tenant).await, expected);
}

async fn documents_are_added_updated_and_removed_with_no_stale_chunk(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    let viewer = owner.with_key(&owner.key_for("acme", "viewer").await);
    let base = "/v1/admin/tenants/acme/knowledge";

    // A document needs its knowledge base; a viewer may not write.
    let early = owner
        .put_json(
            &format!("{base}/help/documents/returns"),
            json!({ "content": RETURNS_V1 }),
        )
        .await;
    assert_eq!(early.status, 404, "{:?}", early.body);
    assert_eq!(
        viewer
            .put_json(&format!("{base}/help"), json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        owner
            .put_json(&format!("{base}/Bad Name"), json!({}))
            .await
            .status,
        400
    );
    let created = owner
        .put_json(
            &format!("{base}/help"),
            json!({ "description": "Help centre" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);

    let doc = json!({ "content": RETURNS_V1, "source": "https://help.example/returns", "tags": ["policy"] });
    let added = owner
        .put_json(&format!("{base}/help/documents/returns"), doc.clone())
        .await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body["version"], 1);
    assert_eq!(added.body["chunks"], 2);
    assert_eq!(added.body["embedded"], true);
    let html = owner
        .put_json(
            &format!("{base}/help/documents/hours"),
            json!({ "content": HOURS_HTML, "format": "html", "title": "Hours" }),
        )
        .await;
    assert_eq!(html.status, 201, "{:?}", html.body);
    let pdf = owner
        .put_json(
            &format!("{base}/help/documents/x"),
            json!({ "content": "x", "format": "pdf" }),
        )
        .await;
    assert_eq!(pdf.status, 400);
    // One embeddings call per upload (each under 64 chunks), metered to the tenant.
    expect_embed_calls(&owner, "acme", 2).await;

    let hits = search(
        &viewer,
        "acme",
        "how many days do I have to return an item?",
    )
    .await;
    assert_eq!(hits[0]["doc_id"], "returns", "{hits:?}");
    assert_eq!(hits[0]["anchor"], "returns");
    assert_eq!(hits[0]["source"], "https://help.example/returns");
    assert!(hits[0]["text"].as_str().unwrap().contains("30 days"));
    let hours = search(&viewer, "acme", "when is the support desk open").await;
    assert_eq!(hours[0]["doc_id"], "hours", "{hours:?}");
    assert_eq!(hours[0]["anchor"], "opening-hours");
    // A tag filter keeps only tagged documents.
    let tagged = viewer
        .post(
            &format!("{base}/search"),
            json!({ "query": "support desk open", "knowledge_bases": ["help"], "tags": ["policy"] }),
        )
        .await;
    assert!(
        tagged.body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["doc_id"] == "returns")
    );

    // The same content again: nothing is embedded, the version stays.
    let same = owner
        .put_json(&format!("{base}/help/documents/returns"), doc)
        .await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["embedded"], false);
    assert_eq!(same.body["version"], 1);
    // The searches embedded their questions; the re-upload embedded nothing.
    expect_embed_calls(&owner, "acme", 2 + 3).await;

    // Changed: version 2 replaces every chunk; the old text is never found again.
    let changed = owner
        .put_json(
            &format!("{base}/help/documents/returns"),
            json!({ "content": RETURNS_V2, "source": "https://help.example/returns" }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["version"], 2);
    assert_eq!(changed.body["chunks"], 1);
    for query in [
        "how many days do I have to return an item?",
        "return shipping flat fee",
    ] {
        for hit in search(&viewer, "acme", query).await {
            let text = hit["text"].as_str().unwrap();
            assert!(
                !text.contains("30 days") && !text.contains("flat fee"),
                "stale: {hit:?}"
            );
            if hit["doc_id"] == "returns" {
                assert_eq!(hit["version"], 2);
            }
        }
    }
    assert!(
        search(&viewer, "acme", "how many days to return").await[0]["text"]
            .as_str()
            .unwrap()
            .contains("60 days")
    );

    // Removed: gone from the next search.
    assert_eq!(
        owner
            .delete(&format!("{base}/help/documents/returns"))
            .await
            .status,
        204
    );
    assert_eq!(
        owner
            .delete(&format!("{base}/help/documents/returns"))
            .await
            .status,
        404
    );
    let after = search(
        &viewer,
        "acme",
        "how many days do I have to return an item?",
    )
    .await;
    assert!(after.iter().all(|h| h["doc_id"] != "returns"), "{after:?}");
    let listed = viewer.get(&format!("{base}/help/documents")).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let bases = viewer.get(base).await;
    assert_eq!(bases.body[0]["name"], "help");
    assert_eq!(bases.body[0]["documents"], 1);

    // A search of an unknown knowledge base is refused; an empty query too.
    let unknown = viewer
        .post(
            &format!("{base}/search"),
            json!({ "query": "x", "knowledge_bases": ["nope"] }),
        )
        .await;
    assert_eq!(unknown.status, 400);
    let empty = viewer
        .post(
            &format!("{base}/search"),
            json!({ "query": "  ", "knowledge_bases": ["help"] }),
        )
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(owner.delete(&format!("{base}/help")).await.status, 204);
    assert_eq!(
        viewer.get(&format!("{base}/help/documents")).await.status,
        404
    );
}

async fn another_tenants_key_finds_nothing(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let a = operator.with_key(&operator.tenant_with_owner("tenant-a", "main").await);
    let b = operator.with_key(&operator.tenant_with_owner("tenant-b", "main").await);
    for admin in [&a, &b] {
        let tenant = if std::ptr::eq(admin, &a) {
            "tenant-a"
        } else {
            "tenant-b"
        };
        let made = admin
            .put_json(
                &format!("/v1/admin/tenants/{tenant}/knowledge/help"),
                json!({}),
            )
            .await;
        assert_eq!(made.status, 201);
    }
    let put = a
        .put_json(
            "/v1/admin/tenants/tenant-a/knowledge/help/documents/secret",
            json!({ "content": "# Vault\n\nThe vault code of tenant A is 7431." }),
        )
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    assert_eq!(search(&a, "tenant-a", "vault code").await.len(), 1);

    // B's key on A's knowledge: 404 everywhere.
    let cross = b
        .post(
            "/v1/admin/tenants/tenant-a/knowledge/search",
            json!({ "query": "vault code", "knowledge_bases": ["help"] }),
        )
        .await;
    assert_eq!(cross.status, 404);
    assert_eq!(
        b.get("/v1/admin/tenants/tenant-a/knowledge/help/documents")
            .await
            .status,
        404
    );
    // B's own knowledge base of the same name holds nothing of A's.
    assert!(search(&b, "tenant-b", "vault code 7431").await.is_empty());
}

on_both_stores!(a_write_on_one_node_is_seen_by_anothers_index);

/// Two nodes' knowledge services on one database, each with its own in-memory index: an
/// upload, a new version and a removal through one are seen by the other's next search
/// (its index follows the store's generation), never a stale chunk.
async fn a_write_on_one_node_is_seen_by_anothers_index(backend: Backend) {
    use switchboard::knowledge::{Format, Knowledge, Mode, NewDocument, SearchRequest};
    use switchboard::llm::{CallOrigin, LlmGateway};
    let database = switchboard::config::DatabaseConfig {
        url: backend.url.clone(),
        ..Default::default()
    };
    let store_a = switchboard::store::Store::connect(&database).await.unwrap();
    store_a.migrate().await.unwrap();
    let store_b = switchboard::store::Store::connect(&database).await.unwrap();
    let node_a = Knowledge::new(store_a.clone(), LlmGateway::offline(Duration::ZERO));
    let node_b = Knowledge::new(store_b, LlmGateway::offline(Duration::ZERO));
    store_a.put_knowledge_base("t", "help", "").await.unwrap();
    let doc = |content: &str| NewDocument {
        content: content.to_owned(),
        format: Format::Markdown,
        title: "Returns".into(),
        source: String::new(),
        tags: Vec::new(),
    };
    let question = SearchRequest {
        query: "how many days to return an item".into(),
        kbs: vec!["help".into()],
        tags: Vec::new(),
        top_k: 5,
        mode: Mode::Vector,
        origin: CallOrigin::default(),
    };
    node_a
        .put_document(
            "t",
            "help",
            "other",
            doc("# Hours\n\nOpen from nine to six."),
        )
        .await
        .unwrap();
    // B's index is built now, before the document it must find exists.
    let before = node_b.search("t", &question).await.unwrap();
    assert!(before.iter().all(|h| h.doc_id == "other"));

    node_a
        .put_document(
            "t",
            "help",
            "returns",
            doc("# Returns\n\nReturn any item within 30 days."),
        )
        .await
        .unwrap();
    let hits = node_b.search("t", &question).await.unwrap();
    assert_eq!(hits[0].doc_id, "returns", "{hits:?}");
    assert!(hits[0].text.contains("30 days"));

    node_a
        .put_document(
            "t",
            "help",
            "returns",
            doc("# Returns\n\nReturn any item within 60 days."),
        )
        .await
        .unwrap();
    let hits = node_b.search("t", &question).await.unwrap();
    assert!(hits.iter().all(|h| !h.text.contains("30 days")), "{hits:?}");
    assert!(hits[0].text.contains("60 days") && hits[0].version == 2);

    assert!(
        node_a
            .delete_document("t", "help", "returns")
            .await
            .unwrap()
    );
    let hits = node_b.search("t", &question).await.unwrap();
    assert!(hits.iter().all(|h| h.doc_id != "returns"), "{hits:?}");
    assert_eq!(node_b.index().len("t").await, 1);
}

/// `tests/fixtures/knowledge/policy.pdf` (made by `scripts/make-test-pdf.py`): page 1 on
/// returns, page 2 on the warranty.
const POLICY_PDF: &[u8] = include_bytes!("../fixtures/knowledge/policy.pdf");

async fn a_pdf_is_uploaded_page_by_page_and_a_broken_one_is_refused(backend: Backend) {
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    let made = owner
        .put_json("/v1/admin/tenants/acme/knowledge/help", json!({}))
        .await;
    assert_eq!(made.status, 201);
    let put = owner
        .put_json(
            "/v1/admin/tenants/acme/knowledge/help/documents/policy",
            json!({ "content": encode(POLICY_PDF), "format": "pdf", "title": "Policy",
                    "source": "https://help.example/policy.pdf" }),
        )
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    assert_eq!(put.body["chunks"], 2);
    let hits = search(&owner, "acme", "how long is the appliance warranty?").await;
    assert_eq!(hits[0]["title"], "Policy, page 2", "{hits:?}");
    assert_eq!(hits[0]["anchor"], "page=2");
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .contains("two year warranty")
    );
    let listed = owner
        .get("/v1/admin/tenants/acme/knowledge/help/documents")
        .await;
    assert_eq!(listed.body[0]["format"], "pdf", "{:?}", listed.body);

    for (content, why) in [
        (encode(&POLICY_PDF[..POLICY_PDF.len() / 3]), "truncated"),
        (encode(b"just some text"), "not a PDF"),
        ("%%% not base64 %%%".to_owned(), "not base64"),
    ] {
        let refused = owner
            .put_json(
                "/v1/admin/tenants/acme/knowledge/help/documents/broken",
                json!({ "content": content, "format": "pdf" }),
            )
            .await;
        assert_eq!(refused.status, 400, "{why}: {:?}", refused.body);
        assert_eq!(
            refused.body["error"]["details"]["code"], "invalid_pdf",
            "{why}: {:?}",
            refused.body
        );
    }
    // Nothing of the broken uploads was stored.
    let listed = owner
        .get("/v1/admin/tenants/acme/knowledge/help/documents")
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    node.shutdown().await;
}
