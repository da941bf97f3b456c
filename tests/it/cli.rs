//! The `switchboard` binary's offline commands: `flows validate` and `migrate`.

use std::process::Command;

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
