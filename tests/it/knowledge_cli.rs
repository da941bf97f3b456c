//! `switchboard kb add|list|remove|search` against a running server.

use tokio::process::Command;

use crate::support::admin::BOOTSTRAP_KEY;
use crate::support::{Backend, spawn_server};

/// Runs the binary with the shared remote flags; returns (exit code, stdout, stderr).
async fn kb(server: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("kb")
        .args(args)
        .args([
            "--server",
            server,
            "--key",
            BOOTSTRAP_KEY,
            "--tenant",
            "demo",
        ])
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_add_list_search_remove() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let server = format!("http://{}", node.addr());
    let dir = tempfile::tempdir().unwrap();
    let returns = dir.path().join("Returns Policy.md");
    std::fs::write(
        &returns,
        "# Returns\n\nReturn any item within 30 days of delivery.\n",
    )
    .unwrap();
    let hours = dir.path().join("hours.html");
    std::fs::write(
        &hours,
        "<h1>Opening hours</h1><p>Monday to Friday, 9 to 6.</p>",
    )
    .unwrap();
    let pdf = dir.path().join("manual.pdf");
    std::fs::write(&pdf, "%PDF-1.7").unwrap();
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();

    let (code, out, err) = kb(
        &server,
        &[
            "add",
            "help",
            &path(&returns),
            &path(&hours),
            "--source",
            "https://help.example",
            "--tag",
            "faq",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created knowledge base help"), "{out}");
    assert!(out.contains("returns-policy: version 1, 1 chunks"), "{out}");
    assert!(out.contains("hours: version 1, 1 chunks"), "{out}");
    let (code, out, _) = kb(&server, &["add", "help", &path(&returns)]).await;
    assert_eq!(code, 0);
    assert!(out.contains("unchanged, not embedded again"), "{out}");
    let (code, _, err) = kb(&server, &["add", "help", &path(&pdf)]).await;
    assert_eq!(code, 1);
    // A PDF goes up as base64; this one is only a header, which the server refuses.
    assert!(
        err.starts_with("error: ") && err.contains("the PDF could not be read"),
        "{err}"
    );

    let (code, out, _) = kb(&server, &["list"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with("help") && out.contains("2 documents"),
        "{out}"
    );
    let (_, out, _) = kb(&server, &["list", "help"]).await;
    assert!(
        out.lines().any(|l| l.starts_with("returns-policy")),
        "{out}"
    );

    let (code, out, err) = kb(
        &server,
        &["search", "how long can I return an item", "--kb", "help"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("1. help/returns-policy#returns — Returns"),
        "{out}"
    );
    let (code, _, err) = kb(&server, &["search", "x", "--kb", "nope"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");

    let (code, out, _) = kb(&server, &["remove", "help", "returns-policy"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("removed help/returns-policy"));
    let (_, out, _) = kb(
        &server,
        &["search", "how long can I return an item", "--kb", "help"],
    )
    .await;
    assert!(!out.contains("returns-policy"), "{out}");
    let (code, _, _) = kb(&server, &["remove", "help"]).await;
    assert_eq!(code, 0);
    let (_, out, _) = kb(&server, &["list"]).await;
    assert!(out.trim().is_empty(), "{out}");
    node.shutdown().await;
}
