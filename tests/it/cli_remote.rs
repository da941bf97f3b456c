//! The CLI against a running server: `flows push|publish|list|pull|diff|activate|
//! rollback`, `tenants create|update`, `conversations list|show`, `usage`, plus local
//! `flows simulate` and `keys create`. Scenarios that change what a server stores run on
//! both stores.

use crate::support::admin::Admin;
use crate::support::{Backend, spawn_server};
use tokio::process::Command;

fn switchboard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

const FLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flows");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_publish_against_a_running_server() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let key = operator.tenant_with_owner("acme", "support_triage").await;
    let server = format!("http://{}", node.addr());
    let remote = [
        "--server",
        server.as_str(),
        "--key",
        key.as_str(),
        "--tenant",
        "acme",
    ];

    let output = switchboard()
        .args([
            "flows",
            "publish",
            &format!("{FLOWS}/support_triage.yaml"),
            "--activate",
        ])
        .args(remote)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("published `support_triage` version 1 (active)"),
        "{stdout}"
    );
    let flow = operator
        .with_key(&key)
        .get("/v1/admin/tenants/acme/flows/support_triage")
        .await;
    assert_eq!(flow.body["active_version"], 1);

    // Publishing the same content again keeps version 1.
    let output = switchboard()
        .args(["flows", "publish", "support_triage"])
        .args(remote)
        .output()
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("unchanged, already `support_triage` version 1")
    );

    // A file that does not compile is not pushed, and the exit code says so.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "id: broken\nstart: a\nstates:\n  a:\n    say: hi\n    next: b\n",
    )
    .unwrap();
    let output = switchboard()
        .args(["flows", "push"])
        .arg(&broken)
        .args(remote)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown-state"));

    // A wrong key is reported with the server's error code.
    let output = switchboard()
        .args([
            "flows",
            "push",
            &format!("{FLOWS}/demo.yaml"),
            "--server",
            &server,
            "--key",
            "sbk_nope",
            "--tenant",
            "acme",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unauthorized"));
    node.shutdown().await;
}

#[tokio::test]
async fn simulate_runs_locally_with_stubs() {
    let output = switchboard()
        .args([
            "flows",
            "simulate",
            &format!("{FLOWS}/order_status.yaml"),
            "--turn",
            "AB-12345",
        ])
        .args([
            "--stub",
            r#"order_status={"status":"shipped","carrier":"UPS","eta":"Friday"}"#,
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("has shipped with UPS and should arrive by Friday"),
        "{stdout}"
    );
    assert!(stdout.contains("-- status: ended"), "{stdout}");
}

#[tokio::test]
async fn keys_create_prints_a_working_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sb.db").display());
    let store = switchboard::store::Store::connect(&switchboard::config::DatabaseConfig {
        url: url.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
        .create_tenant(&switchboard::store::NewTenant {
            id: "acme",
            name: "Acme",
            entry_flow: "main",
            allowed_origins: &[],
            allow_private_adaptors: false,
            llm_model: None,
        })
        .await
        .unwrap();
    let run = |tenant: &'static str| {
        let mut command = switchboard();
        command
            .args(["keys", "create", "--tenant", tenant, "--role", "editor"])
            .env("SWITCHBOARD__DATABASE__URL", &url)
            .current_dir(dir.path());
        command
    };
    let output = run("acme").output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(key.starts_with("sbk_"), "{key}");
    let row = store
        .api_key_by_hash(&switchboard::http::admin::auth::hash_key(&key))
        .await
        .unwrap()
        .expect("the printed key is the stored one");
    assert_eq!(
        (row.tenant_id.as_str(), row.role.as_str()),
        ("acme", "editor")
    );

    let output = run("nobody").output().await.unwrap();
    assert_eq!(output.status.code(), Some(1), "unknown tenants are refused");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no tenant `nobody`"));
}

/// `switchboard usage` prints the tenant's metered model calls: here the offline model's,
/// counted by itself, after a conversation reached an `llm` state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_prints_the_tenants_model_calls() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let mut client = crate::support::Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    client.say("How do I reset my password?").await;
    client.bot_says("offline demo model").await;
    let operator = Admin::operator(node.addr());
    let metered = crate::support::eventually(std::time::Duration::from_secs(10), || {
        let operator = operator.clone();
        async move {
            let calls = operator.get("/v1/admin/tenants/demo/usage/calls").await;
            calls.body.as_array().is_some_and(|c| c.len() == 1)
        }
    })
    .await;
    assert!(metered, "the call is stored");
    let server = format!("http://{}", node.addr());
    let output = switchboard()
        .args(["usage", "--group-by", "model", "--server", &server])
        .args([
            "--key",
            crate::support::admin::BOOTSTRAP_KEY,
            "--tenant",
            "demo",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let model = stdout
        .lines()
        .find(|l| l.starts_with("offline-demo"))
        .unwrap_or_default();
    let total = stdout
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_default();
    assert!(
        model.split_whitespace().nth(1) == Some("1"),
        "one call: {stdout}"
    );
    assert_eq!(
        model.split_whitespace().skip(1).collect::<Vec<_>>(),
        total.split_whitespace().skip(1).collect::<Vec<_>>(),
        "{stdout}"
    );
    assert!(
        total.ends_with("0.000000"),
        "the offline model is free: {stdout}"
    );

    let output = switchboard()
        .args(["usage", "--group-by", "week", "--server", &server])
        .args([
            "--key",
            crate::support::admin::BOOTSTRAP_KEY,
            "--tenant",
            "demo",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_request"));
    node.shutdown().await;
}

/// Runs the binary; returns (exit code, stdout, stderr).
async fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let output = switchboard().args(args).output().await.unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A command's arguments followed by the shared ones.
fn join(args: &[&str], rest: &[&str]) -> Vec<String> {
    args.iter().chain(rest).map(|a| a.to_string()).collect()
}

/// A failure: exit code 1 and one `error:` line that contains `needle`.
fn assert_fails(result: &(i32, String, String), needle: &str) {
    let (code, _, stderr) = result;
    assert_eq!(*code, 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(needle), "{needle}: {stderr}");
}

async fn flows_list_pull_diff_activate_rollback(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let key = operator.tenant_with_owner("acme", "support_triage").await;
    let owner = operator.with_key(&key);
    let v1 = std::fs::read_to_string(format!("{FLOWS}/support_triage.yaml")).unwrap();
    let v2 = v1.replace("I'm the support assistant", "I'm the new support assistant");
    assert_ne!(v1, v2);
    assert_eq!(owner.publish_flow("acme", "support_triage", &v1).await, 1);
    assert_eq!(owner.publish_flow("acme", "support_triage", &v2).await, 2);
    let server = format!("http://{}", node.addr());
    let remote = [
        "--server",
        server.as_str(),
        "--key",
        key.as_str(),
        "--tenant",
        "acme",
    ];
    let with = |args: &[&str]| join(args, &remote);

    // list: one line per flow with its active and latest versions and whether its draft
    // holds unpublished changes (not right after publishing).
    let (code, stdout, stderr) = cli(&with(&["flows", "list"])).await;
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("support_triage"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["support_triage", "2", "2", "no"]
    );
    let (_, stdout, _) = cli(&with(&["flows", "list", "--json"])).await;
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json[0]["active_version"], 2);

    // pull: the active version exactly as saved, another version, the draft, to a file.
    assert_eq!(cli(&with(&["flows", "pull", "support_triage"])).await.1, v2);
    let old = cli(&with(&[
        "flows",
        "pull",
        "support_triage",
        "--version",
        "1",
    ]))
    .await;
    assert_eq!(old.1, v1);
    assert_eq!(
        cli(&with(&["flows", "pull", "support_triage", "--draft"]))
            .await
            .1,
        v2
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("triage.yaml");
    let file_arg = file.to_str().unwrap();
    let (code, _, stderr) = cli(&with(&[
        "flows",
        "pull",
        "support_triage",
        "--version",
        "1",
        "-o",
        file_arg,
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("wrote the version 1 of `support_triage`"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), v1);
    assert_fails(&cli(&with(&["flows", "pull", "nope"])).await, "not_found");
    assert_fails(
        &cli(&with(&[
            "flows",
            "pull",
            "support_triage",
            "--version",
            "9",
        ]))
        .await,
        "not_found",
    );

    // diff: active version against the file (which holds version 1), then two versions.
    let (code, stdout, stderr) = cli(&with(&["flows", "diff", "support_triage", file_arg])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("--- support_triage@2\n+++ {file_arg}\n@@")),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n-    say: \"Hi! I'm the new support assistant."),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n+    say: \"Hi! I'm the support assistant."),
        "{stdout}"
    );
    let exit = cli(&with(&[
        "flows",
        "diff",
        "support_triage",
        file_arg,
        "--exit-code",
    ]))
    .await;
    assert_eq!(exit.0, 1, "differences with --exit-code");
    let same = cli(&with(&[
        "flows",
        "diff",
        "support_triage",
        file_arg,
        "--version",
        "1",
        "--exit-code",
    ]))
    .await;
    assert_eq!((same.0, same.1.as_str()), (0, ""), "{}", same.2);
    assert!(same.2.contains("no differences"), "{}", same.2);
    let (code, stdout, _) = cli(&with(&[
        "flows",
        "diff",
        "support_triage",
        "--version",
        "1",
        "--to",
        "2",
    ]))
    .await;
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("--- support_triage@1\n+++ support_triage@2\n"),
        "{stdout}"
    );

    // activate and rollback.
    let (code, stdout, stderr) = cli(&with(&[
        "flows",
        "activate",
        "support_triage",
        "--version",
        "1",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "activated `support_triage`: version 1 is active"
    );
    let flow = owner
        .get("/v1/admin/tenants/acme/flows/support_triage")
        .await;
    assert_eq!(flow.body["active_version"], 1);
    assert_fails(
        &cli(&with(&["flows", "rollback", "support_triage"])).await,
        "conflict: no version before 1",
    );
    assert_fails(
        &cli(&with(&[
            "flows",
            "activate",
            "support_triage",
            "--version",
            "7",
        ]))
        .await,
        "not_found",
    );
    cli(&with(&[
        "flows",
        "activate",
        "support_triage",
        "--version",
        "2",
    ]))
    .await;
    let (code, stdout, _) = cli(&with(&["flows", "rollback", "support_triage", "--json"])).await;
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["active_version"], 1);

    // A viewer reads but may not switch versions.
    let viewer = operator.key_for("acme", "viewer").await;
    let as_viewer = [
        "--server",
        server.as_str(),
        "--key",
        viewer.as_str(),
        "--tenant",
        "acme",
    ];
    assert_eq!(
        cli(&[&["flows", "list"][..], &as_viewer[..]].concat())
            .await
            .0,
        0
    );
    assert_fails(
        &cli(&[&["flows", "rollback", "support_triage"][..], &as_viewer[..]].concat()).await,
        "forbidden",
    );
    // A server that is not there is one line too.
    assert_fails(
        &cli(&[
            "flows",
            "list",
            "--server",
            "http://127.0.0.1:1",
            "--key",
            "k",
            "--tenant",
            "acme",
        ])
        .await,
        "cannot reach http://127.0.0.1:1/v1/admin/tenants/acme/flows",
    );
    node.shutdown().await;
}

async fn tenants_create_and_update(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let server = format!("http://{}", node.addr());
    let operator_args = [
        "--server",
        server.as_str(),
        "--key",
        crate::support::admin::BOOTSTRAP_KEY,
    ];
    let as_operator = |args: &[&str]| join(args, &operator_args);

    let (code, stdout, stderr) = cli(&as_operator(&[
        "tenants",
        "create",
        "shop",
        "--name",
        "The Shop",
        "--entry-flow",
        "support_triage",
        "--allowed-origin",
        "https://shop.example",
        "--allowed-origin",
        "http://localhost:3000",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("created tenant `shop`\n"), "{stdout}");
    assert!(
        stdout.contains("name:                   The Shop"),
        "{stdout}"
    );
    assert!(
        stdout.contains("https://shop.example, http://localhost:3000"),
        "{stdout}"
    );
    assert!(stdout.contains("(the server's default)"), "{stdout}");
    assert_fails(
        &cli(&as_operator(&["tenants", "create", "shop"])).await,
        "conflict: tenant `shop` already exists",
    );
    assert_fails(
        &cli(&as_operator(&["tenants", "create", "Bad Id"])).await,
        "invalid_request: `id` must match",
    );

    // An owner updates its tenant; only the options given change.
    let operator = Admin::operator(node.addr());
    let owner = operator.key_for("shop", "owner").await;
    let owner_args = ["--server", server.as_str(), "--key", owner.as_str()];
    let as_owner = |args: &[&str]| join(args, &owner_args);
    let (code, stdout, stderr) = cli(&as_owner(&[
        "tenants",
        "update",
        "shop",
        "--name",
        "Shop 2",
        "--llm-model",
        "gpt-4o-mini",
        "--json",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            json["name"].as_str(),
            json["llm_model"].as_str(),
            json["entry_flow"].as_str()
        ),
        (Some("Shop 2"), Some("gpt-4o-mini"), Some("support_triage"))
    );
    assert_eq!(json["allowed_origins"].as_array().unwrap().len(), 2);
    let (code, stdout, _) = cli(&as_owner(&[
        "tenants",
        "update",
        "shop",
        "--default-model",
        "--any-origin",
    ]))
    .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("allowed origins:        any"), "{stdout}");
    assert!(stdout.contains("(the server's default)"), "{stdout}");
    let got = operator.get("/v1/admin/tenants/shop").await;
    assert_eq!(got.body["llm_model"], serde_json::Value::Null);
    assert_eq!(got.body["allowed_origins"], serde_json::json!([]));

    // What the server refuses, and nothing to do, are one-line errors.
    assert_fails(
        &cli(&as_owner(&[
            "tenants",
            "update",
            "shop",
            "--allow-private-adaptors",
            "true",
        ]))
        .await,
        "forbidden",
    );
    assert_fails(
        &cli(&as_owner(&[
            "tenants",
            "update",
            "shop",
            "--allowed-origin",
            "https://shop.example/",
        ]))
        .await,
        "did you mean `https://shop.example`",
    );
    assert_fails(
        &cli(&as_owner(&["tenants", "update", "shop"])).await,
        "nothing to change",
    );
    let (code, stdout, _) = cli(&as_operator(&[
        "tenants",
        "update",
        "shop",
        "--allow-private-adaptors",
        "true",
    ]))
    .await;
    assert_eq!(code, 0);
    assert!(
        stdout.contains("private adaptor calls:  allowed"),
        "{stdout}"
    );
    node.shutdown().await;
}

async fn conversations_list_and_show(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let mut client = crate::support::Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.bot_says("what's your name").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    let id = client.conversation_id.clone().unwrap();
    let server = format!("http://{}", node.addr());
    let remote = [
        "--server",
        server.as_str(),
        "--key",
        crate::support::admin::BOOTSTRAP_KEY,
        "--tenant",
        "demo",
    ];
    let with = |args: &[&str]| join(args, &remote);

    let (code, stdout, stderr) = cli(&with(&["conversations", "list"])).await;
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{stdout}"));
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&columns[1..4], ["webchat", "active", "demo@1"], "{line}");
    let filtered = cli(&with(&[
        "conversations",
        "list",
        "--status",
        "active",
        "--channel",
        "webchat",
        "--flow",
        "demo",
        "--limit",
        "1",
    ]))
    .await;
    assert!(filtered.1.contains(&id), "{}", filtered.1);
    for (filter, value) in [
        ("--status", "ended"),
        ("--channel", "slack"),
        ("--flow", "other"),
    ] {
        let (code, stdout, _) = cli(&with(&["conversations", "list", filter, value])).await;
        assert_eq!(code, 0);
        assert!(
            stdout.contains("(no conversations)") && !stdout.contains(&id),
            "{filter}: {stdout}"
        );
    }
    assert_fails(
        &cli(&with(&["conversations", "list", "--status", "bogus"])).await,
        "invalid_request: `status` must be one of",
    );
    assert_fails(
        &cli(&with(&["conversations", "list", "--limit", "0"])).await,
        "`limit`",
    );
    let (_, stdout, _) = cli(&with(&["conversations", "list", "--json"])).await;
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );

    // show: the transcript, each message under its role.
    let (code, stdout, stderr) = cli(&with(&["conversations", "show", &id])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "conversation {id} (webchat, active)\nflow demo version 1"
        )),
        "{stdout}"
    );
    assert!(stdout.contains(" user:\n    Ada\n"), "{stdout}");
    let bot = stdout.find(" bot:\n").expect("a bot message");
    let user = stdout.find(" user:\n    Ada").unwrap();
    assert!(bot < user, "in order: {stdout}");
    assert!(
        stdout.to_lowercase().contains("nice to meet you, ada"),
        "{stdout}"
    );
    let (_, stdout, _) = cli(&with(&["conversations", "show", &id, "--json"])).await;
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["id"], id.as_str());
    assert!(json["messages"].as_array().unwrap().len() >= 3);
    assert_fails(
        &cli(&with(&["conversations", "show", "nope"])).await,
        "not_found",
    );
    node.shutdown().await;
}

on_both_stores!(
    flows_list_pull_diff_activate_rollback,
    tenants_create_and_update,
    conversations_list_and_show,
);
