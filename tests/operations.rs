//! Operating a node (issue #18): configuration errors as an operator reads them, a busy
//! port told before the database is touched. They run the real `switchboard` binary,
//! as an operator would.

mod support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `switchboard` with a clean environment of `SWITCHBOARD__*` variables, run in `dir`
/// (so no `config/default.toml` is read but the one the test writes).
fn switchboard(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.current_dir(dir).env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("SWITCHBOARD") {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// Runs a command that must fail at once; its exit status and stderr lines.
fn fails(mut command: Command) -> (std::process::ExitStatus, Vec<String>, String) {
    let output = command.output().expect("run switchboard");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines = stderr.lines().map(str::to_owned).collect();
    (
        output.status,
        lines,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_typo_in_the_config_file_is_one_line_naming_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[llm]\ntemprature = 0.5\n").unwrap();
    let mut command = switchboard(dir.path());
    command.args(["--config", "bad.toml", "serve"]);
    let (status, lines, stdout) = fails(command);
    assert!(!status.success());
    assert_eq!(
        lines,
        [
            "error: invalid configuration: `llm.temprature`: unknown key (in bad.toml); \
          did you mean `llm.temperature`?"
        ],
        "stdout: {stdout}"
    );
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn a_typo_in_an_environment_variable_names_the_variable_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = switchboard(dir.path());
    command.env("SWITCHBOARD__LLM__TEMPRATURE", "1");
    let (status, lines, _) = fails(command);
    assert!(!status.success());
    assert_eq!(
        lines,
        [
            "error: invalid configuration: `llm.temprature`: unknown key (in environment \
          variable SWITCHBOARD__LLM__TEMPRATURE); did you mean `llm.temperature` \
          (SWITCHBOARD__LLM__TEMPERATURE)?"
        ]
    );
}

#[test]
fn a_busy_port_is_told_at_once_and_the_database_is_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let database = dir.path().join("never.db");
    let mut command = switchboard(dir.path());
    command
        .arg("serve")
        .env("SWITCHBOARD__SERVER__BIND", addr.to_string())
        .env(
            "SWITCHBOARD__DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .env(
            "SWITCHBOARD__DEMO__FLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/flows"),
        )
        .env("SWITCHBOARD__LOG__FILTER", "info");
    let started = Instant::now();
    let (status, lines, _) = fails(command);
    assert!(!status.success());
    // What the OS says about the port, once (not once per layer of the error).
    let busy = TcpListener::bind(addr).unwrap_err();
    assert_eq!(
        lines,
        [format!("error: could not listen on {addr}: {busy}")],
        "one line, the cause said once"
    );
    assert!(
        !database.exists(),
        "the database was created (and migrated) before the port was tried"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(taken);
}
