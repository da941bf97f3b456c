//! The one way a fake provider is served: [`FakeServer`] runs actix-web on
//! `127.0.0.1:0` on its own OS thread inside its own `actix_web::rt::System` (one worker,
//! no signal handling, no half-closed connections), so a fake works from any tokio
//! runtime flavour and from plain `#[test]`s, and stops cleanly. Also the small response
//! helpers the fakes share (JSON bodies, `Retry-After`, cutting a connection without an
//! answer).

use std::any::Any;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::{Extensions, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

/// Largest request body a fake accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Longest a fake may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

pub(crate) fn set_retry_after(response: &mut HttpResponse, secs: u64) {
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&secs.to_string()) {
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A duplicate of the connection's socket, stored per connection by `on_connect` so a
/// handler can cut the connection without responding.
struct ConnSocket(std::net::TcpStream);

/// Shuts the request's TCP connection down in both directions; the client sees the
/// connection close with no response. The returned response can no longer be sent.
pub(crate) fn drop_connection(req: &HttpRequest) -> HttpResponse {
    match req.conn_data::<ConnSocket>() {
        Some(socket) => {
            let _ = socket.0.shutdown(Shutdown::Both);
        }
        None => tracing::warn!("fake server: no socket to drop; answering 500 instead"),
    }
    HttpResponse::InternalServerError().finish()
}

fn remember_socket(conn: &dyn Any, ext: &mut Extensions) {
    let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    // Like a real provider's server: a small SSE chunk goes out at once, never held back
    // by Nagle's algorithm waiting for the client's delayed ACK (40 ms).
    let _ = tcp.set_nodelay(true);
    #[cfg(unix)]
    let owned = std::os::fd::AsFd::as_fd(tcp).try_clone_to_owned();
    #[cfg(windows)]
    let owned = std::os::windows::io::AsSocket::as_socket(tcp).try_clone_to_owned();
    #[cfg(any(unix, windows))]
    if let Ok(owned) = owned {
        ext.insert(ConnSocket(std::net::TcpStream::from(owned)));
    }
    #[cfg(not(any(unix, windows)))]
    let _ = (tcp, ext);
}

/// A running actix-web server on its own thread (shared by the fakes).
pub(crate) struct FakeServer {
    addr: SocketAddr,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Binds `127.0.0.1:0` and serves the routes `configure` registers.
    pub(crate) fn start<F>(name: &str, configure: F) -> io::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        Self::start_at(name, |_| configure)
    }

    /// [`FakeServer::start`] for a fake whose routes need its own address (URLs it hands
    /// out): `build` gets the bound address and returns the route configuration.
    pub(crate) fn start_at<F>(name: &str, build: impl FnOnce(SocketAddr) -> F) -> io::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let configure = build(addr);
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<ServerHandle>>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || run(listener, configure, ready_tx))?;
        let handle = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::other("fake server thread did not start")),
        };
        Ok(Self {
            addr,
            handle: Some(handle),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// [`FakeServer::stop`] from async code, without blocking the runtime's thread.
    pub(crate) async fn stop_async(self) {
        let _ = tokio::task::spawn_blocking(move || self.stop()).await;
    }

    /// Stops the server (closing open connections) and joins its thread.
    pub(crate) fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            // The command is sent eagerly; the returned future only awaits completion.
            drop(handle.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            drop(handle.stop(false));
        }
    }
}

fn run<F>(listener: TcpListener, configure: F, ready: mpsc::Sender<io::Result<ServerHandle>>)
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .configure(configure.clone())
        })
        .workers(1)
        .disable_signals()
        .h1_allow_half_closed(false)
        .shutdown_timeout(1)
        .on_connect(remember_socket)
        .listen(listener);
        let server = match server {
            Ok(server) => server.run(),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(server.handle()));
        if let Err(e) = server.await {
            tracing::warn!(error = %e, "fake provider server stopped with an error");
        }
    });
}
