//! `inferbench serve` started as a user starts it, on free loopback ports, for
//! tests that measure it over the network.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server started with `inferbench serve`, killed when dropped.
pub struct Served {
    pub child: Child,
    pub http: String,
    pub grpc: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `inferbench serve` on free loopback ports with `extra` flags and waits
/// until it says it is ready.
pub fn serve(extra: &[&str]) -> Served {
    let mut args = vec![
        "serve",
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--model-name",
        "m",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start inferbench serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut http, mut grpc) = (String::new(), String::new());
    let start = Instant::now();
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("[serve] listening: ") {
            let (h, g) = rest.split_once(", ").expect("both fronts");
            http = h.to_string();
            grpc = g.to_string();
        }
        if line == "[serve] ready" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "not ready in 5 minutes"
        );
    }
    assert!(!http.is_empty(), "serve printed no address");
    // Keep reading stderr so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, http, grpc }
}
