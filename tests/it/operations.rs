//! Operating a node (issue #18): configuration errors as an operator reads them, a busy
//! port told before the database is touched, request logs, `x-request-id` on every
//! response, and traces exported over OTLP to a fake collector. Most run the real
//! `switchboard` binary, as an operator would.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::testkit::fake_otlp::FakeCollector;

use crate::support::admin::{Admin, BOOTSTRAP_KEY};
use crate::support::{Backend, Client, eventually, spawn_server};

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

/// Sends a raw HTTP/1.1 request and returns the response head, lower-cased.
fn raw_head(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).to_ascii_lowercase()
}

fn header_of(head: &str, name: &str) -> Option<String> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(|v| v.trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let addr = node.addr();
    let http = reqwest::Client::new();
    let id_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };

    // The client's own id comes back, on a success, a 404, a 401 and a refused path.
    for (path, status) in [
        ("/healthz", 200),
        ("/no/such/route", 404),
        ("/v1/admin/tenants", 401),
        ("/v1/ws", 426),
        ("/a%00b", 400),
    ] {
        let response = http
            .get(format!("http://{addr}{path}"))
            .header("x-request-id", "client-id_42")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(id_of(&response).as_deref(), Some("client-id_42"), "{path}");
    }
    // None, or an unusable one: a fresh UUID each time.
    let mut seen = Vec::new();
    for sent in [None, Some("has space"), Some("x".repeat(200).as_str())] {
        let mut request = http.get(format!("http://{addr}/healthz"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let id = id_of(&request.send().await.unwrap()).expect("an id");
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(!seen.contains(&id));
        seen.push(id);
    }

    // The web chat upgrade (not served by the app) and its refusals too.
    let upgrade = |path: &str, id: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             x-request-id: {id}\r\n\r\n"
        )
    };
    let (a, b) = (upgrade("/v1/ws", "ws-1"), upgrade("/elsewhere", "ws-2"));
    let (switched, refused) =
        tokio::task::spawn_blocking(move || (raw_head(addr, &a), raw_head(addr, &b)))
            .await
            .unwrap();
    assert!(switched.starts_with("http/1.1 101"), "{switched}");
    assert_eq!(
        header_of(&switched, "x-request-id").as_deref(),
        Some("ws-1")
    );
    assert!(refused.starts_with("http/1.1 404"), "{refused}");
    assert_eq!(header_of(&refused, "x-request-id").as_deref(), Some("ws-2"));

    node.shutdown().await;
}

/// A `switchboard serve` process whose stdout lines are collected.
struct Served {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = switchboard(dir.path());
        command
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
            .envs(env.iter().copied())
            .stdout(Stdio::piped());
        let mut child = command.spawn().expect("start switchboard");
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
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the node says where it listens")
            .parse()
            .unwrap();
        Self {
            child,
            addr,
            lines,
            _dir: dir,
        }
    }

    /// SIGTERM, then waits for the exit and for the last line to be read.
    async fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exited = eventually(Duration::from_secs(30), || {
            let exited = self.child.try_wait().unwrap().is_some();
            async move { exited }
        })
        .await;
        assert!(exited, "the node stops on SIGTERM");
        let lines = self.lines.clone();
        eventually(Duration::from_secs(5), || {
            let done = lines
                .lock()
                .unwrap()
                .last()
                .is_some_and(|l| l.contains("stopped"));
            async move { done }
        })
        .await;
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_one_debug_line_with_its_request_id() {
    let node = Served::start(&[
        ("SWITCHBOARD__LOG__FORMAT", "json"),
        ("SWITCHBOARD__LOG__FILTER", "info,switchboard=debug"),
    ]);
    let http = reqwest::Client::new();
    for (path, id) in [
        ("/no/such/route", "ops-404"),
        ("/v1/admin/tenants", "ops-401"),
    ] {
        let response = http
            .get(format!("http://{}{path}", node.addr))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
    }
    let lines = node.stop().await;
    let log = lines.join("\n");
    for id in ["ops-404", "ops-401"] {
        let about: Vec<Value> = lines
            .iter()
            .filter(|l| l.contains(id))
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(about.len(), 1, "one line for {id}:\n{log}");
        let event = &about[0];
        assert_eq!(event["level"], "DEBUG", "{event}");
        assert_eq!(event["fields"]["message"], "request refused", "{event}");
        assert_eq!(event["span"]["request_id"], id, "{event}");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\"")),
        "{log}"
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("\"stopped\"")),
        "the last line says the node stopped:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_an_otlp_collector_with_their_tenant_and_are_flushed_at_shutdown() {
    let collector = FakeCollector::start().expect("fake collector");
    let node = Served::start(&[
        ("SWITCHBOARD__LOG__FORMAT", "json"),
        ("SWITCHBOARD__LOG__FILTER", "info"),
        (
            "SWITCHBOARD__TELEMETRY__OTLP__ENDPOINT",
            &collector.endpoint,
        ),
        (
            "SWITCHBOARD__TELEMETRY__OTLP__SERVICE_NAME",
            "sb-under-test",
        ),
        (
            "SWITCHBOARD__TELEMETRY__OTLP__HEADERS__AUTHORIZATION",
            "Bearer otlp-secret",
        ),
        // Nothing leaves before shutdown on its own: only the final flush sends.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ]);
    let addr = node.addr;

    let mut chat = Client::connect(addr).await;
    chat.hello("demo").await;
    chat.bot_says("what's your name").await;
    chat.say("Ada").await;
    let conversation = chat.conversation_id.clone().expect("joined");
    chat.close().await;
    let tenant = Admin::operator(addr).get("/v1/admin/tenants/demo").await;
    assert_eq!(tenant.status, 200, "{tenant:?}");
    assert!(
        collector.spans().is_empty(),
        "exported before the batch was due"
    );

    let lines = node.stop().await;
    let log = lines.join("\n");
    let spans = collector.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(
        spans.iter().all(|s| s.service == "sb-under-test"),
        "{spans:?}"
    );
    let admin = spans
        .iter()
        .find(|s| s.name == "GET /v1/admin/tenants/{tenant}")
        .unwrap_or_else(|| panic!("no admin request span in {names:?}"));
    assert_eq!(
        admin.attributes.get("tenant").map(String::as_str),
        Some("demo")
    );
    assert_eq!(
        admin.attributes.get("http.status_code").map(String::as_str),
        Some("200")
    );
    assert!(admin.attributes.contains_key("request_id"), "{admin:?}");
    assert_eq!(
        admin.attributes.get("http.flavor").map(String::as_str),
        Some("1.1")
    );
    let socket = spans
        .iter()
        .find(|s| s.name == "GET /v1/ws")
        .unwrap_or_else(|| panic!("no web chat connection span in {names:?}"));
    assert_eq!(
        socket.attributes.get("tenant").map(String::as_str),
        Some("demo")
    );
    assert_eq!(
        socket.attributes.get("conversation"),
        Some(&conversation),
        "{socket:?}"
    );
    let turn = spans
        .iter()
        .find(|s| {
            s.name == "conversation user_message"
                && s.attributes.get("conversation") == Some(&conversation)
        })
        .unwrap_or_else(|| panic!("no conversation turn span in {names:?}"));
    assert_eq!(
        turn.attributes.get("tenant").map(String::as_str),
        Some("demo")
    );
    // The collector's header is sent and never logged.
    assert!(
        collector
            .request_headers()
            .iter()
            .all(|h| h.get("authorization").map(String::as_str) == Some("Bearer otlp-secret")),
    );
    assert!(!log.contains("otlp-secret"), "{log}");
    assert!(log.contains("exporting traces over OTLP"), "{log}");
}
