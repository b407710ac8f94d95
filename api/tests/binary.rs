#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `orbit` binary as an operator runs it: `serve` on a fresh data dir,
//! its log going to a pipe (a file, a log collector), not a terminal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the server however the test ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if wanted(&line) {
                    return line;
                }
            }
            Err(error) => panic!(
                "no such line ({error}); the log so far:\n{}",
                seen.join("\n")
            ),
        }
    }
}

#[test]
fn serve_logs_plain_text_with_an_access_line_and_keeps_its_database_private() {
    let dir = std::env::temp_dir().join(format!("orbit-binary-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_orbit"))
        .arg("serve")
        // The working directory holds no orbit.toml: only these settings.
        .current_dir(&dir)
        .env_remove("ORBIT_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("ORBIT_LOG_FORMAT")
        .env("ORBIT_DATA_DIR", dir.join("data"))
        .env("ORBIT_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orbit starts");
    let mut server = Server(child);
    let stderr = server.0.stderr.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let listening = wait_for_line(&lines, &mut seen, |line| {
        line.contains("orbit is listening")
    });
    let port: u16 = listening
        .split_whitespace()
        .find_map(|field| field.strip_prefix("port="))
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("a port in {listening:?}"));

    let body = r#"{"query": "query LogProbe { __typename }"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let request_id = answer
        .lines()
        .find_map(|line| line.strip_prefix("x-request-id: "))
        .unwrap_or_else(|| panic!("a request id in {answer}"))
        .to_owned();

    // One access line for the operation: its request id, name, type,
    // outcome and duration.
    let access = wait_for_line(&lines, &mut seen, |line| line.contains("LogProbe"));
    for field in [
        "INFO",
        "orbit::access",
        &format!("request_id={request_id}"),
        "operation=LogProbe",
        "operation_type=\"query\"",
        "outcome=\"OK\"",
        "duration_ms=",
    ] {
        assert!(access.contains(field), "{field} in {access:?}");
    }
    drop(server);
    for line in lines.try_iter() {
        seen.push(line);
    }
    assert!(
        seen.iter().all(|line| !line.contains('\x1b')),
        "no colour codes when the log is not a terminal:\n{}",
        seen.join("\n")
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["orbit.db", "jwt-secret", "secrets-key"] {
            let mode = std::fs::metadata(dir.join("data").join(file))
                .unwrap_or_else(|error| panic!("{file}: {error}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file} is {:o}", mode & 0o777);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fake OTLP/HTTP collector: records the path and body of every request
/// and answers `200` with an empty protobuf body (a full success).
fn fake_collector() -> (u16, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (send, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let path = request_line
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            if send.send((path, body)).is_err() {
                return;
            }
        }
    });
    (port, received)
}

#[test]
fn with_an_otlp_endpoint_spans_reach_the_collector() {
    let (collector_port, received) = fake_collector();
    let dir = std::env::temp_dir().join(format!("orbit-otlp-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_orbit"));
    command
        .arg("serve")
        .current_dir(&dir)
        .env_remove("ORBIT_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("ORBIT_DATA_DIR", dir.join("data"))
        .env("ORBIT_LISTEN", "127.0.0.1:0")
        .env(
            "ORBIT_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector_port}"),
        )
        // Batches go out every 100 ms instead of every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // The collector is on loopback: no proxy of the environment in between.
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(proxy);
    }
    let mut server = Server(command.spawn().expect("orbit starts"));
    let stderr = server.0.stderr.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let listening = wait_for_line(&lines, &mut seen, |line| {
        line.contains("orbit is listening")
    });
    let port: u16 = listening
        .split_whitespace()
        .find_map(|field| field.strip_prefix("port="))
        .and_then(|port| port.parse().ok())
        .unwrap();
    let body = r#"{"query": "query TracedProbe { __typename }"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // The request's span arrives, from the service `orbit`, as protobuf.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut posts = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (path, body) = received.recv_timeout(left).unwrap_or_else(|_| {
            panic!("no span with the request reached the collector: {posts:?}")
        });
        assert_eq!(path, "POST /v1/traces");
        let has = |needle: &[u8]| body.windows(needle.len()).any(|window| window == needle);
        if has(b"orbit") && has(b"request") && has(b"/graphql") {
            break;
        }
        posts.push(body.len());
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
