//! A TCP proxy on loopback that a test can cut and restore, to put a real
//! network failure between the server and a dependency (Postgres): while
//! it is cut, open connections are dropped and new ones are closed as soon
//! as they are accepted, as a database that refuses connections does.
//!
//! It also counts the SQL statements clients send through it, reading the
//! Postgres frontend protocol: each simple `Query` and each `Execute` of
//! the extended protocol is one statement (`BEGIN` and `COMMIT` included).
//! And it counts round trips, the times a client waits for the server to be
//! ready again: each simple `Query` and each `Sync`, whether it ends an
//! extended-protocol statement or stands alone (a ping).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct TcpProxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
    counts: Arc<Counts>,
}

/// What clients sent through the proxy so far.
#[derive(Default)]
struct Counts {
    statements: AtomicU64,
    round_trips: AtomicU64,
}

impl TcpProxy {
    /// Starts forwarding a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let up = Arc::new(AtomicBool::new(true));
        let pipes: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let counts = Arc::new(Counts::default());
        let accepting = {
            let up = up.clone();
            let pipes = pipes.clone();
            let counts = counts.clone();
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let counts = counts.clone();
                    let pipe = tokio::spawn(async move {
                        if let Ok(outbound) = TcpStream::connect(target).await {
                            let (mut from_client, mut to_client) = inbound.into_split();
                            let (mut from_server, mut to_server) = outbound.into_split();
                            let replies = tokio::io::copy(&mut from_server, &mut to_client);
                            let requests =
                                forward_counting(&mut from_client, &mut to_server, &counts);
                            tokio::select! {
                                _ = replies => {},
                                _ = requests => {},
                            }
                        }
                    });
                    let mut pipes = pipes.lock().expect("the pipes lock");
                    pipes.retain(|pipe| !pipe.is_finished());
                    pipes.push(pipe.abort_handle());
                }
            })
            .abort_handle()
        };
        Self {
            address,
            up,
            pipes,
            accepting,
            counts,
        }
    }

    /// SQL statements sent through the proxy so far.
    pub fn statements(&self) -> u64 {
        self.counts.statements.load(Ordering::SeqCst)
    }

    /// Round trips made through the proxy so far.
    pub fn round_trips(&self) -> u64 {
        self.counts.round_trips.load(Ordering::SeqCst)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for pipe in self.pipes.lock().expect("the pipes lock").drain(..) {
            pipe.abort();
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}

/// Forwards what a Postgres client sends, counting its statements and
/// round trips.
async fn forward_counting(
    from_client: &mut (impl AsyncReadExt + Unpin),
    to_server: &mut (impl AsyncWriteExt + Unpin),
    counts: &Counts,
) -> std::io::Result<()> {
    let mut reader = FrontendMessages::default();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = from_client.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        let found = reader.feed(&buffer[..read]);
        counts
            .statements
            .fetch_add(found.statements, Ordering::SeqCst);
        counts
            .round_trips
            .fetch_add(found.round_trips, Ordering::SeqCst);
        to_server.write_all(&buffer[..read]).await?;
    }
}

/// Splits the client's byte stream into protocol messages: first untyped
/// ones (an SSL request, then the startup message), then typed ones.
#[derive(Default)]
struct FrontendMessages {
    pending: Vec<u8>,
    started: bool,
}

/// The startup message's protocol version (3.0).
const PROTOCOL_3: u32 = 196_608;

/// What some bytes of a client's stream completed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Found {
    statements: u64,
    round_trips: u64,
}

impl std::iter::Sum for Found {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |all, one| Self {
            statements: all.statements + one.statements,
            round_trips: all.round_trips + one.round_trips,
        })
    }
}

impl FrontendMessages {
    /// Takes more bytes; returns the statements and round trips they
    /// completed.
    fn feed(&mut self, bytes: &[u8]) -> Found {
        self.pending.extend_from_slice(bytes);
        let mut found = Found::default();
        loop {
            let header = if self.started { 5 } else { 8 };
            if self.pending.len() < header {
                return found;
            }
            let length_at = usize::from(self.started);
            let length = u32::from_be_bytes(
                self.pending[length_at..length_at + 4]
                    .try_into()
                    .expect("four bytes"),
            ) as usize;
            let total = length_at + length;
            if self.pending.len() < total {
                return found;
            }
            if self.started {
                if matches!(self.pending[0], b'Q' | b'E') {
                    found.statements += 1;
                }
                if matches!(self.pending[0], b'Q' | b'S') {
                    found.round_trips += 1;
                }
            } else {
                let code = u32::from_be_bytes(self.pending[4..8].try_into().expect("four bytes"));
                self.started = code == PROTOCOL_3;
            }
            self.pending.drain(..total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut message = vec![kind];
        message.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        message.extend_from_slice(body);
        message
    }

    #[test]
    fn counts_statements_and_round_trips_across_reads() {
        let mut stream = Vec::new();
        // SSL request, then the startup message.
        stream.extend_from_slice(&8u32.to_be_bytes());
        stream.extend_from_slice(&80_877_103u32.to_be_bytes());
        stream.extend_from_slice(&11u32.to_be_bytes());
        stream.extend_from_slice(&PROTOCOL_3.to_be_bytes());
        stream.extend_from_slice(b"u\0\0");
        stream.extend(typed(b'Q', b"BEGIN\0"));
        stream.extend(typed(b'P', b"\0SELECT 1\0\0\0"));
        stream.extend(typed(b'B', b"\0\0\0\0\0\0\0\0"));
        stream.extend(typed(b'E', b"\0\0\0\0\0"));
        stream.extend(typed(b'S', b""));
        stream.extend(typed(b'Q', b"COMMIT\0"));
        // A ping.
        stream.extend(typed(b'S', b""));
        let mut reader = FrontendMessages::default();
        let counted: Found = stream.chunks(3).map(|chunk| reader.feed(chunk)).sum();
        assert_eq!(
            counted,
            Found {
                statements: 3,
                round_trips: 4
            }
        );
    }
}
