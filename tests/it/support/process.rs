//! Switchboard as a real process: the test binary's own `switchboard` started with
//! environment configuration on a free port, so that tests can SIGKILL it (crash tests,
//! cluster tests). Its JSON log says where it listens; set `NODE_TEST_LOGS` to see the
//! log lines on stderr.

use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::admin::Admin;
use super::client::Client;
use super::eventually;

/// A running node process; killed when dropped.
pub struct NodeProcess {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
}

/// Reads a node's JSON log lines: sends the address from its "switchboard listening"
/// line. Reading on until the end also keeps the node from blocking on a full pipe.
fn watch_logs(name: String, stdout: ChildStdout) -> std::sync::mpsc::Receiver<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    let show =
        std::env::var("NODE_TEST_LOGS").is_ok() || std::env::var("CLUSTER_TEST_LOGS").is_ok();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if show {
                eprintln!("[{name}] {line}");
            }
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if event["fields"]["message"] == "switchboard listening"
                && let Some(addr) = event["fields"]["addr"].as_str()
                && let Ok(addr) = addr.parse()
            {
                let _ = tx.send(addr);
            }
        }
    });
    rx
}

impl NodeProcess {
    /// Starts `switchboard serve` with `env` (`SWITCHBOARD__…` variables) on port 0 and
    /// waits until it answers `/readyz`.
    pub async fn start(name: &str, env: &[(&str, String)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .env("SWITCHBOARD__SERVER__BIND", "127.0.0.1:0")
            // Tests stop nodes with SIGKILL or wait for them: no pre-drain delay.
            .env("SWITCHBOARD__SERVER__PREDRAIN_SECS", "0")
            .env("SWITCHBOARD__LOG__FORMAT", "json")
            .env("SWITCHBOARD__LOG__FILTER", "warn,switchboard::app=info")
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a switchboard node");
        let addresses = watch_logs(name.to_string(), child.stdout.take().expect("stdout"));
        let addr = addresses
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("node {name} never said where it listens"));
        let node = NodeProcess {
            name: name.to_string(),
            addr,
            child,
        };
        let ready = eventually(Duration::from_secs(30), || async {
            reqwest::get(format!("http://{}/readyz", node.addr))
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(ready, "node {name} never became ready");
        node
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.name);
    }

    /// SIGKILL: no drain, no flush, nothing the process could do about it.
    pub fn kill(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    pub fn admin(&self) -> Admin {
        Admin::operator(self.addr)
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
