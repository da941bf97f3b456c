//! `switchboard kb add|list|remove|search`: a tenant's knowledge bases through a running
//! server's admin API (`…/knowledge…`). `add` uploads files (the document id is the file
//! name without its extension; the format comes from the extension; a PDF is sent as
//! base64), creating the knowledge base when it is missing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::remote::{Remote, RemoteArgs, encode};

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Upload documents (Markdown, text, HTML) into a knowledge base.
    Add {
        #[command(flatten)]
        remote: RemoteArgs,
        /// The knowledge base (created when missing).
        kb: String,
        /// The files to upload; each becomes the document named after the file.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where the documents live (a URL prefix): `<source>/<file name>`.
        #[arg(long)]
        source: Option<String>,
        /// A tag for every document (repeat for more).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// The knowledge bases, or one knowledge base's documents.
    List {
        #[command(flatten)]
        remote: RemoteArgs,
        kb: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a document, or a whole knowledge base with its documents.
    Remove {
        #[command(flatten)]
        remote: RemoteArgs,
        kb: String,
        doc: Option<String>,
    },
    /// Search knowledge bases like a flow would.
    Search {
        #[command(flatten)]
        remote: RemoteArgs,
        query: String,
        /// A knowledge base to search (repeat for more).
        #[arg(long = "kb", required = true)]
        kbs: Vec<String>,
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// hybrid, vector or keyword.
        #[arg(long, default_value = "hybrid")]
        mode: String,
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: KbCommand) -> anyhow::Result<ExitCode> {
    match command {
        KbCommand::Add {
            remote,
            kb,
            files,
            source,
            tags,
        } => {
            let remote = Remote::new(remote);
            let path = format!("/knowledge/{}", encode(&kb));
            let existing = remote.get("/knowledge").await?;
            let known = existing
                .as_array()
                .is_some_and(|all| all.iter().any(|b| b["name"] == kb.as_str()));
            if !known {
                remote.json(Method::PUT, &path, &json!({})).await?;
                println!("created knowledge base {kb}");
            }
            for file in &files {
                let (doc, format) = document_of(file)?;
                let content = if format == "pdf" {
                    use base64::Engine as _;
                    let bytes = std::fs::read(file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                } else {
                    std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read {}", file.display()))?
                };
                let name = file.file_name().map(|n| n.to_string_lossy().to_string());
                let body = json!({
                    "content": content,
                    "format": format,
                    "title": doc,
                    "source": source.as_ref().zip(name).map(|(s, n)| format!("{}/{n}", s.trim_end_matches('/'))),
                    "tags": tags,
                });
                let outcome = remote
                    .json(
                        Method::PUT,
                        &format!("{path}/documents/{}", encode(&doc)),
                        &body,
                    )
                    .await?;
                println!(
                    "{doc}: version {}, {} chunks{}",
                    outcome["version"],
                    outcome["chunks"],
                    if outcome["embedded"] == true {
                        ""
                    } else {
                        " (unchanged, not embedded again)"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::List { remote, kb, json } => {
            let remote = Remote::new(remote);
            let body = match &kb {
                Some(kb) => {
                    remote
                        .get(&format!("/knowledge/{}/documents", encode(kb)))
                        .await?
                }
                None => remote.get("/knowledge").await?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else if kb.is_some() {
                print!("{}", documents_table(&body));
            } else {
                for base in body.as_array().into_iter().flatten() {
                    println!(
                        "{:<32} {:>6} documents  {}",
                        base["name"].as_str().unwrap_or(""),
                        base["documents"],
                        base["description"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Remove { remote, kb, doc } => {
            let remote = Remote::new(remote);
            let path = match &doc {
                Some(doc) => format!("/knowledge/{}/documents/{}", encode(&kb), encode(doc)),
                None => format!("/knowledge/{}", encode(&kb)),
            };
            let response = remote
                .send(Method::DELETE, &path, "application/json", String::new())
                .await?;
            if !response.ok() {
                bail!("{}", response.error_message());
            }
            println!(
                "removed {}",
                doc.map_or(kb.clone(), |d| format!("{kb}/{d}"))
            );
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Search {
            remote,
            query,
            kbs,
            top_k,
            mode,
            tags,
            json,
        } => {
            let remote = Remote::new(remote);
            let body = json!({ "query": query, "knowledge_bases": kbs, "top_k": top_k, "mode": mode, "tags": tags });
            let found = remote
                .json(Method::POST, "/knowledge/search", &body)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                print!("{}", hits_text(&found));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The document id (file stem, lower-cased, other characters as `-`) and the format
/// (from the extension) of a file.
fn document_of(file: &Path) -> anyhow::Result<(String, &'static str)> {
    let extension = file
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let format = match extension.as_str() {
        "md" | "markdown" => "markdown",
        "txt" | "text" => "text",
        "html" | "htm" => "html",
        "pdf" => "pdf",
        other => bail!(
            "{}: unsupported file type {other:?} (Markdown, text, HTML or PDF)",
            file.display()
        ),
    };
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let doc: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if doc.is_empty() {
        bail!("{}: no file name to name the document by", file.display());
    }
    Ok((doc, format))
}

fn documents_table(body: &Value) -> String {
    let mut out = format!(
        "{:<32} {:>7} {:>7}  {}\n",
        "document", "version", "chunks", "title"
    );
    for doc in body.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<32} {:>7} {:>7}  {}\n",
            doc["doc_id"].as_str().unwrap_or(""),
            doc["version"],
            doc["chunks"],
            doc["title"].as_str().unwrap_or("")
        ));
    }
    out
}

fn hits_text(found: &Value) -> String {
    let mut out = String::new();
    for (i, hit) in found["hits"].as_array().into_iter().flatten().enumerate() {
        let anchor = hit["anchor"].as_str().unwrap_or("");
        out.push_str(&format!(
            "{}. {}/{}{} — {} (similarity {:.2})\n   {}\n",
            i + 1,
            hit["kb"].as_str().unwrap_or(""),
            hit["doc_id"].as_str().unwrap_or(""),
            if anchor.is_empty() {
                String::new()
            } else {
                format!("#{anchor}")
            },
            hit["title"].as_str().unwrap_or(""),
            hit["similarity"].as_f64().unwrap_or(0.0),
            hit["text"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(160)
                .collect::<String>()
                .replace('\n', " ")
        ));
    }
    if out.is_empty() {
        out.push_str("no hits\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_name_their_documents_and_formats() {
        assert_eq!(
            document_of(Path::new("docs/Model Gateway.md")).unwrap(),
            ("model-gateway".to_owned(), "markdown")
        );
        assert_eq!(document_of(Path::new("a/hours.HTM")).unwrap().1, "html");
        assert_eq!(document_of(Path::new("faq.txt")).unwrap().1, "text");
        assert_eq!(document_of(Path::new("manual.pdf")).unwrap().1, "pdf");
        assert!(document_of(Path::new("slides.pptx")).is_err());
    }
}
