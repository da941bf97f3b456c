//! Logs as an operator reads them, from a real `switchboard serve` process whose stdout is
//! a pipe: no colour codes, a refused request (4xx) is no WARN, the last line says the
//! node stopped, and the canary: e-mail addresses, phone numbers and card numbers that
//! users write (in chat messages, and quoted back in an error) never reach the log.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::support::admin::{Admin, BOOTSTRAP_KEY};
use crate::support::{Client, eventually};

const EMAIL: &str = "ada.lovelace@example.com";
const PHONE: &str = "+44 20 7946 0958";
const CARD: &str = "4111 1111 1111 1111";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_plain_quiet_about_4xx_end_with_stopped_and_hold_no_pii() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env("SWITCHBOARD__SERVER__BIND", "127.0.0.1:0")
        .env("SWITCHBOARD__SERVER__WORKERS", "1")
        .env("SWITCHBOARD__SERVER__PREDRAIN_SECS", "0")
        .env(
            "SWITCHBOARD__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("sb.db").display()),
        )
        .env("SWITCHBOARD__ADMIN__BOOTSTRAP_KEY", BOOTSTRAP_KEY)
        .env(
            "SWITCHBOARD__DEMO__FLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/flows"),
        )
        .env("SWITCHBOARD__LLM__OFFLINE_TOKEN_DELAY_MS", "1")
        // Stricter than production: our own DEBUG lines must be clean too.
        .env("SWITCHBOARD__LOG__FILTER", "info,switchboard=debug")
        .env("SWITCHBOARD__LOG__FORMAT", "text")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start switchboard");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let collected = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.strip_prefix("Switchboard is listening on http://") {
                let _ = addr_tx.send(addr.trim().to_string());
            }
            collected.lock().unwrap().push(line);
        }
    });
    let addr: std::net::SocketAddr = addr_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the node says where it listens")
        .parse()
        .unwrap();

    // A conversation full of personal data.
    let mut chat = Client::connect(addr).await;
    chat.hello("demo").await;
    chat.bot_says("what's your name").await;
    chat.say(&format!("Ada, mail {EMAIL}")).await;
    chat.say(&format!("or call {PHONE}")).await;
    chat.say(&format!("my card is {CARD}")).await;
    // A bad frame quoting it back.
    chat.send_json(json!({"type": "message", "client_id": EMAIL, "text": [PHONE, CARD]}))
        .await;
    chat.until(|f| f["type"] == "error").await;
    // And a 4xx whose error message quotes it.
    let refused = Admin::operator(addr)
        .post(
            "/v1/admin/tenants",
            json!({"id": "pii", "name": "pii", "entry_flow": "main",
                   "allow_private_adaptors": format!("{EMAIL} {PHONE} {CARD}")}),
        )
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    chat.close().await;

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exited = eventually(Duration::from_secs(30), || {
        let exited = child.try_wait().unwrap().is_some();
        async move { exited }
    })
    .await;
    assert!(exited, "the node stops on SIGTERM");
    let stopped = eventually(Duration::from_secs(5), || {
        let done = lines
            .lock()
            .unwrap()
            .last()
            .is_some_and(|l| l.contains("stopped"));
        async move { done }
    })
    .await;

    let lines = lines.lock().unwrap().clone();
    let log = lines.join("\n");
    assert!(stopped, "the last line says the node stopped:\n{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log:\n{log}"
    );
    for secret in [EMAIL, PHONE, CARD, "7946 0958", "4111 1111"] {
        assert!(!log.contains(secret), "`{secret}` reached the log:\n{log}");
    }
    for line in &lines {
        let warned_4xx = line.contains(" WARN ") && line.contains("400");
        let generic = line.contains("Error encountered");
        assert!(!warned_4xx && !generic, "a 4xx logged as a warning: {line}");
    }
}
