//! The CLI against a running server: `flows push`, `flows publish`, plus local
//! `flows simulate` and `keys create`.

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
        .args(["--key", crate::support::admin::BOOTSTRAP_KEY, "--tenant", "demo"])
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
        .args(["--key", crate::support::admin::BOOTSTRAP_KEY, "--tenant", "demo"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_request"));
    node.shutdown().await;
}
