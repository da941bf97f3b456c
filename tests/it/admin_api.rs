//! The admin API over real HTTP: tenants, keys, flows (draft, If-Match, validate,
//! publish, versions, activate, rollback, delete), conversations, audit, OpenAPI; the
//! tenant/role isolation matrix; and bad bodies that must get a 4xx, never a 5xx.

use crate::support::admin::{Admin, BOOTSTRAP_KEY};
use crate::support::{Backend, Client, spawn_server};
use serde_json::{Value, json};

on_both_stores!(admin_endpoints_end_to_end, isolation_matrix);

fn simple_flow(label: &str) -> String {
    format!(
        "id: main\nslots:\n  name: {{ type: string }}\nstart: ask\nstates:\n  ask:\n    collect: {{ slot: name, prompt: \"Hello from {label}! Your name?\" }}\n    next: bye\n  bye:\n    end: \"Bye {{{{ name }}}} ({label})\"\n"
    )
}

async fn admin_endpoints_end_to_end(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    assert_eq!(
        operator
            .post("/v1/admin/tenants", json!({"id": "acme", "name": "again"}))
            .await
            .status,
        409
    );
    let tenants = operator.get("/v1/admin/tenants").await;
    assert!(
        tenants
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "acme")
    );
    let own = owner.get("/v1/admin/tenants").await;
    assert_eq!(
        own.body.as_array().unwrap().len(),
        1,
        "a key sees its own tenant only"
    );

    // Keys: created (secret shown once), listed without secrets, revoked.
    let editor_key = owner.key_for("acme", "editor").await;
    let viewer_key = owner.key_for("acme", "viewer").await;
    let editor = owner.with_key(&editor_key);
    let viewer = owner.with_key(&viewer_key);
    let keys = owner.get("/v1/admin/tenants/acme/keys").await;
    assert_eq!(keys.status, 200);
    assert_eq!(keys.body.as_array().unwrap().len(), 3);
    let listed = keys.body.to_string();
    assert!(
        !listed.contains(&editor_key) && !listed.contains(&viewer_key),
        "secrets never listed"
    );

    // Draft with If-Match.
    let path = "/v1/admin/tenants/acme/flows/main";
    let saved = editor.put_yaml(path, &simple_flow("v1")).await;
    assert_eq!(saved.status, 201, "{:?}", saved.body);
    let etag = saved.etag.clone().unwrap();
    assert_eq!(saved.body["valid"], true);
    let stale = editor
        .send(
            reqwest::Method::PUT,
            path,
            Some(("application/yaml", simple_flow("v1b"))),
            &[("If-Match", "\"not-it\"")],
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.code(), "precondition_failed");
    let fresh = editor
        .send(
            reqwest::Method::PUT,
            path,
            Some(("application/yaml", simple_flow("v1"))),
            &[("If-Match", &format!("\"{etag}\""))],
        )
        .await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
    let got = viewer.get(path).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["draft"]["source"], simple_flow("v1"));
    assert_eq!(got.etag.as_deref(), Some(etag.as_str()));

    // Validate the draft, and a broken body, without saving it.
    let report = viewer.post(&format!("{path}/validate"), Value::Null).await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    let broken = viewer
        .send(
            reqwest::Method::POST,
            &format!("{path}/validate"),
            Some((
                "application/yaml",
                "id: main\nstart: nowhere\nstates: {}\n".into(),
            )),
            &[],
        )
        .await;
    assert_eq!(broken.body["valid"], false);
    assert!(!broken.body["diagnostics"].as_array().unwrap().is_empty());

    // Publish v1 (twice: idempotent), activate, publish v2, roll back.
    let v1 = editor
        .post(&format!("{path}/publish"), json!({"activate": true}))
        .await;
    assert_eq!(v1.status, 201, "{:?}", v1.body);
    assert_eq!(v1.body["version"], 1);
    assert_eq!(v1.body["active"], true);
    assert_eq!(v1.body["content_hash"].as_str().unwrap().len(), 64);
    let again = editor.post(&format!("{path}/publish"), json!({})).await;
    assert_eq!(
        (again.status, again.body["version"].as_i64()),
        (200, Some(1))
    );
    // Published: nothing is left in the draft, though the editor keeps its copy.
    let has_draft = |body: &Value| {
        body.as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "main")
            .unwrap()["has_draft"]
            .clone()
    };
    let flows_path = path.trim_end_matches("/main");
    assert_eq!(has_draft(&viewer.get(flows_path).await.body), false);
    let published = viewer.get(path).await;
    assert_eq!(published.body["has_draft"], false);
    assert_eq!(published.body["draft"]["source"], simple_flow("v1"));
    editor.put_yaml(path, &simple_flow("v2")).await;
    assert_eq!(has_draft(&viewer.get(flows_path).await.body), true);
    assert_eq!(viewer.get(path).await.body["has_draft"], true);
    let v2 = editor.post(&format!("{path}/publish"), json!({})).await;
    assert_eq!(
        (
            v2.status,
            v2.body["version"].as_i64(),
            v2.body["active"].as_bool()
        ),
        (201, Some(2), Some(false))
    );
    let activated = editor
        .post(&format!("{path}/activate"), json!({"version": 2}))
        .await;
    assert_eq!(activated.body["active_version"], 2, "{:?}", activated.body);
    let versions = viewer.get(&format!("{path}/versions")).await;
    let numbers: Vec<i64> = versions
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    let detail = viewer.get(&format!("{path}/versions/1")).await;
    assert_eq!(detail.body["source"], simple_flow("v1"));
    assert_eq!(detail.body["definition"]["id"], "main");
    let rolled = editor.post(&format!("{path}/rollback"), Value::Null).await;
    assert_eq!(rolled.body["active_version"], 1, "{:?}", rolled.body);
    assert_eq!(
        editor
            .post(&format!("{path}/activate"), json!({"version": 9}))
            .await
            .status,
        404
    );

    // A conversation on the active version (v1 after the rollback), then its transcript.
    let mut client = Client::connect(node.addr()).await;
    client.hello("acme").await;
    client.bot_says("hello from v1").await;
    client.say("Ada").await;
    client.bot_says("bye ada (v1)").await;
    let conversation = client.conversation_id.clone().unwrap();
    let list = viewer
        .get("/v1/admin/tenants/acme/conversations?channel=webchat&limit=10")
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body[0]["id"], conversation.as_str());
    assert_eq!(list.body[0]["flow_version"], 1);
    let ended = viewer
        .get("/v1/admin/tenants/acme/conversations?status=ended")
        .await;
    assert_eq!(ended.body.as_array().unwrap().len(), 1);
    // A status that does not exist is a mistake, not an empty list.
    let bogus = viewer
        .get("/v1/admin/tenants/acme/conversations?status=bogus")
        .await;
    assert_eq!(bogus.status, 400, "{:?}", bogus.body);
    assert_eq!(bogus.code(), "invalid_request");
    // Server-side filters: text search (case-insensitive, LIKE wildcards taken
    // literally), flow version, start time.
    let ids = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let found = |q: &str| format!("/v1/admin/tenants/acme/conversations?q={q}");
    assert_eq!(
        ids(&viewer.get(&found("ADA")).await.body),
        vec![conversation.clone()]
    );
    assert!(ids(&viewer.get(&found("nobody%20said%20this")).await.body).is_empty());
    assert!(ids(&viewer.get(&found("A%25a")).await.body).is_empty());
    assert!(ids(&viewer.get(&found("_da")).await.body).is_empty());
    assert_eq!(viewer.get(&found("%20")).await.status, 400);
    let on = |v: i64| format!("/v1/admin/tenants/acme/conversations?version={v}");
    assert_eq!(
        ids(&viewer.get(&on(1)).await.body),
        vec![conversation.clone()]
    );
    assert!(ids(&viewer.get(&on(2)).await.body).is_empty());
    let started = list.body[0]["created_at"].as_i64().unwrap();
    let window = |since: i64, until: i64| {
        format!("/v1/admin/tenants/acme/conversations?since={since}&until={until}")
    };
    assert_eq!(
        ids(&viewer.get(&window(started, started + 1)).await.body),
        vec![conversation.clone()]
    );
    assert!(ids(&viewer.get(&window(started + 1, started + 2)).await.body).is_empty());
    assert_eq!(viewer.get(&window(started, started)).await.status, 400);
    let transcript = viewer
        .get(&format!(
            "/v1/admin/tenants/acme/conversations/{conversation}"
        ))
        .await;
    let texts: Vec<&str> = transcript.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec![
            "Hello from v1! Your name?",
            "Ada",
            "Bye Ada (v1)",
            "The conversation ended."
        ]
    );
    // Each bot message says where its turn left the conversation (none once it ended).
    let states: Vec<&Value> = transcript.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["state"])
        .collect();
    assert_eq!(states[0], "ask", "{}", transcript.body);
    assert_eq!(*states[1], Value::Null, "user messages carry none");
    assert_eq!(*states[2], Value::Null, "the flow ended");

    // Deleting: not the entry flow; another flow can go.
    assert_eq!(editor.delete(path).await.status, 409);
    editor
        .put_yaml(
            "/v1/admin/tenants/acme/flows/extra",
            &simple_flow("x").replace("id: main", "id: extra"),
        )
        .await;
    assert_eq!(
        editor
            .delete("/v1/admin/tenants/acme/flows/extra")
            .await
            .status,
        204
    );
    assert_eq!(
        viewer
            .get("/v1/admin/tenants/acme/flows/extra")
            .await
            .status,
        404
    );

    // The audit log saw every write, with the actor.
    let audit = owner.get("/v1/admin/tenants/acme/audit").await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for action in [
        "tenant.create",
        "key.create",
        "flow.save_draft",
        "flow.publish",
        "flow.activate",
        "flow.rollback",
        "flow.delete",
    ] {
        assert!(
            actions.contains(&action),
            "audit lacks {action}: {actions:?}"
        );
    }
    assert!(
        audit
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["actor"].as_str().unwrap().starts_with("key:"))
    );
    assert!(!audit.body.to_string().contains(&editor_key));

    // Revoked keys stop working at once.
    let viewer_id = keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "viewer")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        owner
            .delete(&format!("/v1/admin/tenants/acme/keys/{viewer_id}"))
            .await
            .status,
        204
    );
    let refused = viewer.get(path).await;
    assert_eq!((refused.status, refused.code()), (401, "unauthorized"));
    node.shutdown().await;
}

/// One row of the matrix: a request and the least role that may make it.
struct Endpoint {
    method: reqwest::Method,
    path: &'static str,
    body: Option<(&'static str, String)>,
    least: &'static str,
}

async fn isolation_matrix(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let mut keys = std::collections::HashMap::new();
    for tenant in ["ta", "tb"] {
        let owner = operator.with_key(&operator.tenant_with_owner(tenant, "main").await);
        owner
            .publish_flow(tenant, "main", &simple_flow(tenant))
            .await;
        for role in ["owner", "editor", "viewer"] {
            keys.insert((tenant, role), owner.key_for(tenant, role).await);
        }
    }
    let flow = || Some(("application/yaml", simple_flow("m")));
    let json_body = |v: Value| Some(("application/json", v.to_string()));
    use reqwest::Method as M;
    let endpoints = [
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/flows",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/flows/main",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/flows/main/versions",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/flows/main/versions/1",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::POST,
            path: "/v1/admin/tenants/{t}/flows/main/validate",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/conversations",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/adaptors",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::PUT,
            path: "/v1/admin/tenants/{t}/flows/main",
            body: flow(),
            least: "editor",
        },
        Endpoint {
            method: M::POST,
            path: "/v1/admin/tenants/{t}/flows/main/publish",
            body: json_body(json!({})),
            least: "editor",
        },
        Endpoint {
            method: M::POST,
            path: "/v1/admin/tenants/{t}/flows/main/activate",
            body: json_body(json!({"version": 1})),
            least: "editor",
        },
        Endpoint {
            method: M::PUT,
            path: "/v1/admin/tenants/{t}/adaptors/shop",
            body: json_body(json!({"spec": {"method": "GET", "url": "http://127.0.0.1:9/x"}})),
            least: "editor",
        },
        Endpoint {
            method: M::POST,
            path: "/v1/admin/tenants/{t}/simulate",
            body: json_body(json!({"flow": "main", "turns": ["Ada"]})),
            least: "viewer",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/keys",
            body: None,
            least: "owner",
        },
        Endpoint {
            method: M::POST,
            path: "/v1/admin/tenants/{t}/keys",
            body: json_body(json!({"name": "x", "role": "viewer"})),
            least: "owner",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/channels",
            body: None,
            least: "viewer",
        },
        Endpoint {
            method: M::PUT,
            path: "/v1/admin/tenants/{t}/channels/{t}-wa",
            body: json_body(
                json!({"provider": "whatsapp", "config": {"phone_number_id": "1"},
                "secrets": {"app_secret": "a", "verify_token": "v", "access_token": "t"}}),
            ),
            least: "owner",
        },
        Endpoint {
            method: M::GET,
            path: "/v1/admin/tenants/{t}/audit",
            body: None,
            least: "owner",
        },
    ];
    let rank = |role: &str| {
        ["viewer", "editor", "owner"]
            .iter()
            .position(|r| *r == role)
            .unwrap()
    };
    for endpoint in &endpoints {
        for target in ["ta", "tb"] {
            let path = endpoint.path.replace("{t}", target);
            for caller in ["ta", "tb"] {
                for role in ["viewer", "editor", "owner"] {
                    let admin = operator.with_key(&keys[&(caller, role)]);
                    let reply = admin
                        .send(endpoint.method.clone(), &path, endpoint.body.clone(), &[])
                        .await;
                    let expected = if caller != target {
                        404
                    } else if rank(role) < rank(endpoint.least) {
                        403
                    } else {
                        0 // any success
                    };
                    match expected {
                        0 => assert!(
                            (200..300).contains(&reply.status),
                            "{role} of {caller} on {} {path}: {} {:?}",
                            endpoint.method,
                            reply.status,
                            reply.body
                        ),
                        status => {
                            assert_eq!(
                                reply.status, status,
                                "{role} of {caller} on {} {path}: {:?}",
                                endpoint.method, reply.body
                            );
                            assert_eq!(
                                reply.code(),
                                if status == 404 {
                                    "not_found"
                                } else {
                                    "forbidden"
                                }
                            );
                        }
                    }
                }
            }
        }
    }
    // Operator-only: creating tenants. No key at all: 401 everywhere.
    let owner_a = operator.with_key(&keys[&("ta", "owner")]);
    assert_eq!(
        owner_a
            .post("/v1/admin/tenants", json!({"id": "tc", "name": "c"}))
            .await
            .status,
        403
    );
    let anonymous = operator.with_key("");
    for endpoint in &endpoints {
        let reply = anonymous
            .send(
                endpoint.method.clone(),
                &endpoint.path.replace("{t}", "ta"),
                endpoint.body.clone(),
                &[],
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "unauthorized"),
            "{}",
            endpoint.path
        );
    }
    let forged = operator.with_key("sbk_forged");
    assert_eq!(forged.get("/v1/admin/tenants/ta").await.status, 401);
    let _ = BOOTSTRAP_KEY;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_4xx_with_a_code() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    // (method, path, body, expected status, expected code)
    type Case<'a> = (
        reqwest::Method,
        &'a str,
        Option<(&'a str, String)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            reqwest::Method::POST,
            "/v1/admin/tenants",
            Some(("application/json", "{not json".into())),
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::POST,
            "/v1/admin/tenants",
            Some((
                "application/json",
                r#"{"id":"x","name":"y","bogus":1}"#.into(),
            )),
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::POST,
            "/v1/admin/tenants",
            Some((
                "application/json",
                r#"{"id":"Not A Slug","name":"y"}"#.into(),
            )),
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::POST,
            "/v1/admin/tenants",
            Some(("text/csv", "a,b".into())),
            415,
            "unsupported_media_type",
        ),
        (
            reqwest::Method::POST,
            "/v1/admin/tenants/acme/keys",
            Some(("application/json", r#"{"name":"k","role":"god"}"#.into())),
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::PUT,
            "/v1/admin/tenants/acme/flows/main",
            Some(("application/yaml", "".into())),
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::PUT,
            "/v1/admin/tenants/acme/flows/main",
            Some(("image/png", "x".into())),
            415,
            "unsupported_media_type",
        ),
        (
            reqwest::Method::PUT,
            "/v1/admin/tenants/acme/flows/main",
            Some(("application/yaml", "x".repeat(300 * 1024))),
            413,
            "payload_too_large",
        ),
        (
            reqwest::Method::PUT,
            "/v1/admin/tenants/acme/flows/Bad%20Id",
            Some(("application/yaml", simple_flow("v"))),
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::PUT,
            "/v1/admin/tenants/acme/flows/other",
            Some(("application/yaml", simple_flow("v"))),
            422,
            "validation_failed",
        ),
        (
            reqwest::Method::POST,
            "/v1/admin/tenants/acme/flows/main/publish",
            Some(("application/json", "{}".into())),
            404,
            "not_found",
        ),
        (
            reqwest::Method::POST,
            "/v1/admin/tenants/acme/flows/main/activate",
            Some(("application/json", r#"{"version":"one"}"#.into())),
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::GET,
            "/v1/admin/tenants/acme/conversations?limit=0",
            None,
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::GET,
            "/v1/admin/tenants/acme/conversations?limit=abc",
            None,
            400,
            "invalid_request",
        ),
        (
            reqwest::Method::GET,
            "/v1/admin/tenants/acme/flows/main/versions/abc",
            None,
            400,
            "invalid_request",
        ),
    ];
    for (method, path, body, status, code) in cases {
        // Creating tenants is the operator's; everything else is the tenant owner's.
        let caller = if path == "/v1/admin/tenants" {
            &operator
        } else {
            &owner
        };
        let reply = caller.send(method.clone(), path, body, &[]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{method} {path}: {:?}",
            reply.body
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // A draft that does not compile is saved but cannot be published.
    let broken = owner
        .put_yaml(
            "/v1/admin/tenants/acme/flows/main",
            "id: main\nstart: nowhere\nstates: {}\n",
        )
        .await;
    assert_eq!(
        (broken.status, broken.body["valid"].as_bool()),
        (201, Some(false))
    );
    let refused = owner
        .post("/v1/admin/tenants/acme/flows/main/publish", json!({}))
        .await;
    assert_eq!((refused.status, refused.code()), (422, "validation_failed"));
    assert!(
        !refused.body["error"]["details"]["diagnostics"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_covers_every_admin_route() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let doc: Value = reqwest::get(format!("http://{}/v1/openapi.json", node.addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/admin/tenants", vec!["get", "post"]),
        ("/v1/admin/tenants/{tenant}", vec!["get"]),
        ("/v1/admin/tenants/{tenant}/keys", vec!["get", "post"]),
        ("/v1/admin/tenants/{tenant}/keys/{key_id}", vec!["delete"]),
        ("/v1/admin/tenants/{tenant}/flows", vec!["get"]),
        (
            "/v1/admin/tenants/{tenant}/flows/{flow}",
            vec!["get", "put", "delete"],
        ),
        (
            "/v1/admin/tenants/{tenant}/flows/{flow}/validate",
            vec!["post"],
        ),
        (
            "/v1/admin/tenants/{tenant}/flows/{flow}/publish",
            vec!["post"],
        ),
        (
            "/v1/admin/tenants/{tenant}/flows/{flow}/versions",
            vec!["get"],
        ),
        (
            "/v1/admin/tenants/{tenant}/flows/{flow}/versions/{version}",
            vec!["get"],
        ),
        (
            "/v1/admin/tenants/{tenant}/flows/{flow}/activate",
            vec!["post"],
        ),
        (
            "/v1/admin/tenants/{tenant}/flows/{flow}/rollback",
            vec!["post"],
        ),
        ("/v1/admin/tenants/{tenant}/adaptors", vec!["get"]),
        (
            "/v1/admin/tenants/{tenant}/adaptors/{name}",
            vec!["get", "put", "delete"],
        ),
        ("/v1/admin/tenants/{tenant}/simulate", vec!["post"]),
        ("/v1/admin/tenants/{tenant}/conversations", vec!["get"]),
        ("/v1/admin/tenants/{tenant}/conversations/{id}", vec!["get"]),
        ("/v1/admin/tenants/{tenant}/audit", vec!["get"]),
    ] {
        let item = paths.get(path).unwrap_or_else(|| {
            panic!(
                "missing {path}; have {:?}",
                paths.keys().collect::<Vec<_>>()
            )
        });
        for method in methods {
            assert!(item.get(method).is_some(), "{path} lacks {method}");
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every documented route exists: a request without a key gets 401 (not 404).
    let http = reqwest::Client::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let url = format!(
                "http://{}{}",
                node.addr(),
                path.replace("{tenant}", "acme")
                    .replace("{flow}", "f")
                    .replace("{version}", "1")
                    .replace("{key_id}", "k")
                    .replace("{name}", "n")
                    .replace("{id}", "c")
            );
            let reply = http
                .request(method.to_uppercase().parse().unwrap(), url)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 401, "{method} {path}");
        }
    }
    let schema: Value = reqwest::get(format!("http://{}/v1/schemas/flow.json", node.addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        schema["$schema"]
            .as_str()
            .is_some_and(|s| s.contains("json-schema.org")),
        "{schema}"
    );
    node.shutdown().await;
}
