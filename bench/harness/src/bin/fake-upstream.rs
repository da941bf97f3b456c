//! A small OpenAI-compatible upstream: `POST …/chat/completions` answers with `--tokens`
//! tokens at a set pace. With `"stream": true` it sends real SSE
//! (`data: {chat.completion.chunk}` lines, a role chunk at once, one content chunk per
//! token, a `finish_reason` chunk, `data: [DONE]`); otherwise one `chat.completion`.
//!
//! Every token is the word `t<micros>` followed by a space, where `<micros>` is the wall
//! clock (µs since the Unix epoch) at the moment the chunk is handed to the socket. A
//! reader on the same machine subtracts it from its own clock to get the relay latency
//! of whatever sits between (nothing, Switchboard, or the LiteLLM proxy).
//!
//! `fake-upstream [--bind 127.0.0.1:9100] [--tokens 20] [--pace-ms 25] [--first-ms P]`

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use switchboard_bench::wall_micros;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Parser, Clone)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9100")]
    bind: String,
    /// Content tokens per completion.
    #[arg(long, default_value_t = 20)]
    tokens: usize,
    /// Gap between two tokens.
    #[arg(long, default_value_t = 25)]
    pace_ms: u64,
    /// Time from the request to the first token (default: the pace).
    #[arg(long)]
    first_ms: Option<u64>,
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("valid response")
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Bytes {
    let chunk = json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": wall_micros() / 1_000_000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    });
    Bytes::from(format!("data: {chunk}\n\n"))
}

async fn handle(args: Arc<Args>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && (path == "/health" || path.ends_with("/models")) {
        return Ok(full(
            StatusCode::OK,
            "application/json",
            json!({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})
                .to_string(),
        ));
    }
    if req.method() != Method::POST || !path.ends_with("/chat/completions") {
        return Ok(full(
            StatusCode::NOT_FOUND,
            "application/json",
            json!({"error": {"message": format!("no route {path}"), "type": "invalid_request_error"}}).to_string(),
        ));
    }
    let start = Instant::now();
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "bad body".into(),
            ));
        }
    };
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"]
        .as_str()
        .unwrap_or("gpt-4o-mini")
        .to_owned();
    let stream = request["stream"].as_bool().unwrap_or(false);
    let usage = request["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let first = Duration::from_millis(args.first_ms.unwrap_or(args.pace_ms));
    let pace = Duration::from_millis(args.pace_ms);
    let tokens = args.tokens;
    let usage_json =
        json!({"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens});

    if !stream {
        tokio::time::sleep_until(start + first + pace * tokens.saturating_sub(1) as u32).await;
        let text: String = (0..tokens)
            .map(|_| format!("t{} ", wall_micros()))
            .collect();
        let completion = json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": wall_micros() / 1_000_000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": "stop"}],
            "usage": usage_json,
        });
        return Ok(full(
            StatusCode::OK,
            "application/json",
            completion.to_string(),
        ));
    }

    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    tokio::spawn(async move {
        let send = |bytes: Bytes| tx.send(Ok(Frame::data(bytes)));
        if send(chunk(
            &model,
            json!({"role": "assistant", "content": ""}),
            None,
        ))
        .await
        .is_err()
        {
            return;
        }
        for i in 0..tokens {
            tokio::time::sleep_until(start + first + pace * i as u32).await;
            let token = format!("t{} ", wall_micros());
            if send(chunk(&model, json!({"content": token}), None))
                .await
                .is_err()
            {
                return; // the client went away
            }
        }
        let _ = send(chunk(&model, json!({}), Some("stop"))).await;
        if usage {
            let last = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
                "created": wall_micros() / 1_000_000, "model": model, "choices": [], "usage": usage_json});
            let _ = send(Bytes::from(format!("data: {last}\n\n"))).await;
        }
        let _ = send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    let body = StreamBody::new(tokio_stream(rx)).boxed();
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .expect("valid response"))
}

/// An mpsc receiver as a `Stream` (without pulling in tokio-stream).
fn tokio_stream<T>(rx: mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    switchboard_bench::raise_nofile();
    let listener = TcpListener::bind(&args.bind).await?;
    eprintln!(
        "fake-upstream listening on {} ({} tokens, first after {} ms, then every {} ms)",
        listener.local_addr()?,
        args.tokens,
        args.first_ms.unwrap_or(args.pace_ms),
        args.pace_ms
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let args = args.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(args.clone(), req));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
