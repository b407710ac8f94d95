//! The reference for `ws-fanout --reference`: the same subscribers served
//! the same frames by a bare tokio-tungstenite broadcast (no GraphQL, no
//! broker, no database), in a process of its own so that its CPU and
//! memory are read from `/proc` exactly as Orbit's are. Orbit's figures are
//! then read as ratios to these, measured in the same run on the same
//! machine.
//!
//! The reference speaks just enough `graphql-transport-ws` for the bench's
//! subscribers (`connection_ack`, `pong`); each frame is built once, stamped
//! with the time, and the same bytes are written to every socket. A
//! publisher connects to [`PUBLISH_PATH`]; each text frame it sends makes
//! one broadcast.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use chrono::{SecondsFormat, Utc};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Where the publisher connects.
pub const PUBLISH_PATH: &str = "/publish";
/// Frames a subscriber may fall behind before it is dropped (as Orbit
/// drops a slow reader).
const BACKLOG: usize = 1024;

/// `orbit-bench bare-broadcast-server`: prints `listening on ADDRESS` and
/// serves until it is killed.
pub async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let (frames, _) = broadcast::channel::<Utf8Bytes>(BACKLOG);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let frames = frames.clone();
        tokio::spawn(async move {
            if let Err(error) = connection(stream, frames).await {
                eprintln!("bare broadcast: {error:#}");
            }
        });
    }
}

async fn connection(stream: TcpStream, frames: broadcast::Sender<Utf8Bytes>) -> anyhow::Result<()> {
    let mut publisher = false;
    // tungstenite's handshake callback returns its own (large) error type.
    #[allow(clippy::result_large_err)]
    let choose = |request: &Request, mut response: Response| {
        publisher = request.uri().path() == PUBLISH_PATH;
        if request.headers().contains_key("Sec-WebSocket-Protocol") {
            response.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static("graphql-transport-ws"),
            );
        }
        Ok(response)
    };
    // The same small read buffer as the bench's clients (see graphql_ws).
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let mut socket =
        tokio_tungstenite::accept_hdr_async_with_config(stream, choose, Some(config)).await?;
    if publisher {
        while let Some(incoming) = socket.next().await {
            if let Message::Text(_) = incoming? {
                // One frame, the shape Orbit sends the bench's subscription,
                // shared by every socket.
                let frame = format!(
                    r#"{{"id":"1","type":"next","payload":{{"data":{{"threadEvents":{{"message":{{"createdAt":"{}"}}}}}}}}}}"#,
                    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
                );
                let _ = frames.send(Utf8Bytes::from(frame));
            }
        }
        return Ok(());
    }
    let mut subscription: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let next_frame = async {
            match subscription.as_mut() {
                Some(receiver) => receiver.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = next_frame => match frame {
                Ok(frame) => socket.send(Message::Text(frame)).await?,
                Err(RecvError::Lagged(_)) => bail!("a slow subscriber was dropped"),
                Err(RecvError::Closed) => return Ok(()),
            },
            incoming = socket.next() => {
                let Some(incoming) = incoming else { return Ok(()) };
                let Message::Text(text) = incoming? else { continue };
                if text.contains(r#""type":"connection_init""#) {
                    socket.send(Message::text(r#"{"type":"connection_ack"}"#)).await?;
                } else if text.contains(r#""type":"subscribe""#) {
                    subscription = Some(frames.subscribe());
                } else if text.contains(r#""type":"ping""#) {
                    socket.send(Message::text(r#"{"type":"pong"}"#)).await?;
                }
            }
        }
    }
}

/// The reference server as a child process (this binary), stopped when
/// dropped.
pub struct BareServer {
    child: Child,
    address: String,
}

impl Drop for BareServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl BareServer {
    pub fn start() -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("bare-broadcast-server")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the bare broadcast server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("unexpected first line: {line:?}"))?
            .to_owned();
        Ok(Self { child, address })
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.address)
    }

    /// A publisher: each `send(())` on it broadcasts one frame.
    pub async fn publisher(&self) -> anyhow::Result<tokio::sync::mpsc::UnboundedSender<()>> {
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{}{PUBLISH_PATH}", self.address))
                .await?;
        let (sender, mut requests) = tokio::sync::mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            while requests.recv().await.is_some() {
                if socket.send(Message::text("publish")).await.is_err() {
                    break;
                }
            }
        });
        Ok(sender)
    }

    /// Its process id, to read its CPU and memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
