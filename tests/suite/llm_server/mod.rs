//! A scripted OpenAI-compatible server for the LLM client's tests: plain threads and
//! sockets, so that every token leaves at a time known to a fraction of a
//! millisecond (each is sent at a deadline measured from when the request was
//! read, not after the previous sleep, so errors do not add up). What it does is
//! chosen by the request's `model`:
//!
//! | model | answer |
//! |---|---|
//! | `steady` | first token after [`TTFT_MS`], then one every [`GAP_MS`], [`TOKENS`] in all, usage, `[DONE]` |
//! | `slow` | as `steady` with gaps of [`SLOW_GAP_MS`] |
//! | `cut` | 3 tokens, then the connection closes inside an event and a chunk |
//! | `nodone` | every token and a finish_reason, then a clean end without `[DONE]` (as `transformers serve` does) |
//! | `stops` | 3 tokens, then a clean end: no finish_reason, no `[DONE]` |
//! | `silent` | reads the request and never answers (until 10 s) |
//! | `error` | HTTP 500 with an OpenAI error body |
//! | `html` | HTTP 200 with an HTML page |
//! | `flaky` | as `steady`, but every second request is an HTTP 500 |
//! | `fails-late` | as `steady` for this server's first two requests, then HTTP 500 |
//! | `closes` | as `steady`, then, 20 ms after every answer, the connection closes though it was not asked to, whatever was sent on it since (as llama.cpp's server does after a stream) |
//!
//! [`Scripted::with_timing`] starts one whose `steady` first token and gaps are
//! other than [`TTFT_MS`] and [`GAP_MS`] (two servers of known, different speeds).
//!
//! `GET /metrics` serves `scripted_requests_total`, the requests read so far.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests to the `flaky` model so far (its own count: every second one fails).
static FLAKY: AtomicU64 = AtomicU64::new(0);

pub const TTFT_MS: u64 = 200;
pub const GAP_MS: u64 = 40;
pub const SLOW_GAP_MS: u64 = 80;
pub const TOKENS: u64 = 6;

/// When a `steady` stream's tokens leave: the first after `ttft_ms`, then one every `gap_ms`.
#[derive(Clone, Copy)]
pub struct Timing {
    pub ttft_ms: u64,
    pub gap_ms: u64,
}

pub struct Scripted {
    pub port: u16,
    pub requests: Arc<AtomicU64>,
    /// The latest any token left after its scheduled time (ns, after the write): the
    /// machine's scheduling noise on the server's side, which no client can remove.
    pub late_ns: Arc<AtomicU64>,
}

impl Scripted {
    pub fn start() -> Self {
        Self::with_timing(Timing {
            ttft_ms: TTFT_MS,
            gap_ms: GAP_MS,
        })
    }

    pub fn with_timing(timing: Timing) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let late_ns = Arc::new(AtomicU64::new(0));
        let late = late_ns.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (counter, late) = (counter.clone(), late.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &counter, &late, timing);
                });
            }
        });
        Self {
            port,
            requests,
            late_ns,
        }
    }

    pub fn url(&self) -> String {
        format!("openai://127.0.0.1:{}/v1", self.port)
    }
}

fn serve(
    stream: TcpStream,
    counter: &AtomicU64,
    late: &AtomicU64,
    timing: Timing,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    'requests: loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let request_line = line.trim().to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let read_at = Instant::now();
        let mut out = stream.try_clone()?;
        if request_line.starts_with("GET /metrics") {
            let text = format!(
                "# TYPE scripted_requests_total counter\nscripted_requests_total {}\nscripted_in_flight 1\n",
                counter.load(Ordering::SeqCst)
            );
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}",
                text.len()
            )?;
            continue;
        }
        let nth = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let model = json["model"].as_str().unwrap_or("").to_string();
        let stream_it = json["stream"].as_bool().unwrap_or(false);
        let chat = request_line.contains("/chat/");
        let prompt_tokens = json["prompt"]
            .as_str()
            .or(json["messages"][0]["content"].as_str())
            .map_or(0, |p| p.split_whitespace().count());
        match model.as_str() {
            "error" => return error(&mut out),
            "flaky" if FLAKY.fetch_add(1, Ordering::SeqCst) % 2 == 1 => return error(&mut out),
            "fails-late" if nth > 2 => return error(&mut out),
            "html" => {
                let page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
                write!(out, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}", page.len())?;
                return Ok(());
            }
            "silent" => {
                std::thread::sleep(Duration::from_secs(10));
                return Ok(());
            }
            _ => {}
        }
        let gap = if model == "slow" {
            SLOW_GAP_MS
        } else {
            timing.gap_ms
        };
        let at = |k: u64| read_at + Duration::from_millis(timing.ttft_ms + k * gap);
        let wait_until =
            |t: Instant| std::thread::sleep(t.saturating_duration_since(Instant::now()));
        let note_late = |t: Instant| {
            late.fetch_max(
                Instant::now().saturating_duration_since(t).as_nanos() as u64,
                Ordering::SeqCst,
            );
        };
        let piece = |text: &str, finish: bool| {
            let finish = if finish { "\"length\"" } else { "null" };
            if chat {
                format!("{{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":{finish}}}]}}")
            } else {
                format!("{{\"choices\":[{{\"index\":0,\"text\":\"{text}\",\"finish_reason\":{finish}}}]}}")
            }
        };
        let usage = format!("{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{TOKENS},\"total_tokens\":{}}}", prompt_tokens as u64 + TOKENS);
        if !stream_it {
            wait_until(at(TOKENS - 1));
            let text = " tok".repeat(TOKENS as usize);
            let whole = if chat {
                format!("{{\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{text}\"}},\"finish_reason\":\"length\"}}],\"usage\":{usage}}}")
            } else {
                format!("{{\"choices\":[{{\"index\":0,\"text\":\"{text}\",\"finish_reason\":\"length\"}}],\"usage\":{usage}}}")
            };
            write!(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{whole}", whole.len())?;
            note_late(at(TOKENS - 1));
            continue;
        }
        write!(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        let chunk = |out: &mut TcpStream, data: &str| -> std::io::Result<()> {
            write!(out, "{:x}\r\n{data}\r\n", data.len())?;
            out.flush()
        };
        for k in 0..TOKENS {
            wait_until(at(k));
            if model == "stops" && k == 3 {
                // The body ends here: nothing more may follow on this connection, or
                // the client would read it as the next request's answer.
                write!(out, "0\r\n\r\n")?;
                out.flush()?;
                continue 'requests;
            }
            if model == "cut" && k == 3 {
                // Half an event in half a chunk, then the socket closes.
                let half = "data: {\"choices\":[{\"te";
                write!(out, "{:x}\r\n{half}", half.len() + 10)?;
                out.flush()?;
                return Ok(());
            }
            chunk(
                &mut out,
                &format!("data: {}\n\n", piece(" tok", k == TOKENS - 1)),
            )?;
            note_late(at(k));
        }
        chunk(
            &mut out,
            &format!("data: {{\"choices\":[],\"usage\":{usage}}}\n\n"),
        )?;
        if model != "nodone" {
            chunk(&mut out, "data: [DONE]\n\n")?;
        }
        write!(out, "0\r\n\r\n")?;
        out.flush()?;
        if model == "closes" {
            // Late enough that the client has sent its next request down this
            // connection, which is then closed unread.
            std::thread::sleep(Duration::from_millis(20));
            return Ok(());
        }
    }
}

fn error(out: &mut TcpStream) -> std::io::Result<()> {
    let body = "{\"error\":{\"message\":\"scripted failure\",\"type\":\"server_error\"}}";
    write!(out, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    out.flush()
}
