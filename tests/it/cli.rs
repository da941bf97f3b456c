//! The `switchboard` binary's offline commands: `flows validate`, `migrate`, and the
//! database commands `keys list|revoke` (on both stores), which refuse to create a
//! missing SQLite file.

use std::process::Command;

use crate::support::Backend;

fn switchboard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

#[test]
fn validate_accepts_the_shipped_flows() {
    let flows = concat!(env!("CARGO_MANIFEST_DIR"), "/flows");
    let output = switchboard()
        .args(["flows", "validate", flows])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("0 error(s)"), "{stderr}");
}

#[test]
fn validate_reports_file_and_state_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "id: broken\nstart: hello\nstates:\n  hello:\n    say: \"hi\"\n    next: goodby\n  goodbye:\n    end: \"bye\"\n",
    )
    .unwrap();
    let output = switchboard()
        .args(["flows", "validate"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("broken.yaml:6"),
        "names the file and line: {stderr}"
    );
    assert!(
        stderr.contains("/states/hello/next"),
        "names the state: {stderr}"
    );
    assert!(
        stderr.contains("goodbye"),
        "suggests the right state: {stderr}"
    );
}

#[test]
fn migrate_creates_the_schema_and_bad_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("db/switchboard.db").display()
    );
    let output = switchboard()
        .arg("migrate")
        .env("SWITCHBOARD__DATABASE__URL", &url)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("db/switchboard.db").exists());

    let output = switchboard()
        .arg("migrate")
        .env("SWITCHBOARD__WEBCHAT__MAX_TEXT_CHARS", "lots")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.to_lowercase().contains("webchat.max_text_chars"),
        "{stderr}"
    );
}

fn run_keys(backend: &Backend, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    switchboard()
        .arg("keys")
        .args(args)
        .env("SWITCHBOARD__DATABASE__URL", &backend.url)
        .current_dir(dir.path())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn keys_list_and_revoke(backend: Backend) {
    let store = switchboard::store::Store::connect(&switchboard::config::DatabaseConfig {
        url: backend.url.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    for id in ["acme", "other"] {
        store
            .create_tenant(&switchboard::store::NewTenant {
                id,
                name: id,
                entry_flow: "main",
                allowed_origins: &[],
                allow_private_adaptors: false,
                llm_model: None,
            })
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    for role in ["owner", "viewer"] {
        let output = run_keys(&backend, &["create", "--tenant", "acme", "--role", role]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        keys.push(text(&output.stdout).trim().to_string());
    }
    let rows = store.list_api_keys("acme").await.unwrap();
    assert_eq!(rows.len(), 2);

    // The table names every key by id, role and prefix, and shows no key or hash.
    let output = run_keys(&backend, &["list", "--tenant", "acme"]);
    let listed = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    for row in &rows {
        let line = listed
            .lines()
            .find(|l| l.starts_with(&row.id))
            .unwrap_or_else(|| panic!("{} missing: {listed}", row.id));
        assert!(
            line.contains(&row.role) && line.contains(&row.prefix),
            "{line}"
        );
    }
    for key in &keys {
        assert!(!listed.contains(key.as_str()), "a key is printed: {listed}");
        let hash = switchboard::http::admin::auth::hash_key(key);
        assert!(!listed.contains(&hash), "a hash is printed: {listed}");
    }
    let output = run_keys(&backend, &["list", "--tenant", "acme", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert!(!json.to_string().contains("hash") && !json.to_string().contains(&keys[0]));

    // Revoke: the key stops working, leaves the list (but not `--all`), and is audited.
    let viewer = rows.iter().find(|r| r.role == "viewer").unwrap();
    let output = run_keys(&backend, &["revoke", "--tenant", "acme", &viewer.id]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains(&format!("revoked key `{}`", viewer.id)));
    let hash = switchboard::http::admin::auth::hash_key(&keys[1]);
    assert!(store.api_key_by_hash(&hash).await.unwrap().is_none());
    let listed = text(&run_keys(&backend, &["list", "--tenant", "acme"]).stdout);
    assert!(!listed.contains(&viewer.id), "{listed}");
    let all = text(&run_keys(&backend, &["list", "--tenant", "acme", "--all"]).stdout);
    let line = all.lines().find(|l| l.starts_with(&viewer.id)).unwrap();
    assert!(line.contains("(revoked "), "{line}");
    let actions: Vec<String> = store
        .list_audit("acme", 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.actor == "cli")
        .map(|a| a.action)
        .collect();
    assert_eq!(actions, ["key.revoke", "key.create", "key.create"]);

    // Failures are one line and exit 1: a revoked key, another tenant's key, no tenant.
    for (args, needle) in [
        (
            vec!["revoke", "--tenant", "acme", viewer.id.as_str()],
            "no live key",
        ),
        (
            vec!["revoke", "--tenant", "other", rows[0].id.as_str()],
            "no live key",
        ),
        (vec!["list", "--tenant", "nobody"], "no tenant `nobody`"),
    ] {
        let output = run_keys(&backend, &args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let owner_hash = switchboard::http::admin::auth::hash_key(&keys[0]);
    assert!(store.api_key_by_hash(&owner_hash).await.unwrap().is_some());

    // A deleted tenant is no tenant here either.
    assert!(store.soft_delete_tenant("acme").await.unwrap());
    let output = run_keys(&backend, &["list", "--tenant", "acme"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no tenant `acme`"));
    store.close().await;
}

on_both_stores!(keys_list_and_revoke);

#[test]
fn database_commands_refuse_to_create_a_missing_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir
        .path()
        .canonicalize()
        .unwrap()
        .join("data/switchboard.db");
    for args in [
        vec!["keys", "create", "--tenant", "acme"],
        vec!["keys", "list", "--tenant", "acme"],
        vec!["keys", "revoke", "--tenant", "acme", "k1"],
    ] {
        // The default database, sqlite://data/switchboard.db, relative to a directory
        // that has none.
        let output = switchboard()
            .args(&args)
            .env_remove("SWITCHBOARD__DATABASE__URL")
            .env_remove("SWITCHBOARD_CONFIG")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{} does not exist", expected.display())),
            "names the absolute path: {stderr}"
        );
        assert!(stderr.contains("switchboard migrate"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "neither the file nor its directory was created"
    );

    // After `migrate` the same command finds the file (and the tenant is what is missing).
    let migrated = switchboard()
        .arg("migrate")
        .env_remove("SWITCHBOARD__DATABASE__URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    let output = switchboard()
        .args(["keys", "list", "--tenant", "acme"])
        .env_remove("SWITCHBOARD__DATABASE__URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no tenant `acme`"));
}
