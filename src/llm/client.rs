//! One request to an OpenAI-compatible server, timed as its text arrives: each body
//! frame is stamped when it is read, every server-sent event it completes takes
//! that stamp, and the request ends in one [`Outcome`] (completed, cut short, timed
//! out, failed) with what arrived before, so that no request is ever lost.
//!
//! A stream is whole when it ends with `data: [DONE]`, or when its body ends cleanly
//! after a chunk with a `finish_reason` (servers differ: `transformers serve` sends
//! no `[DONE]`). A body that breaks, stops inside an event, or ends with neither is
//! cut short.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use super::chunk::{self, quote};
use super::config::Api;
use super::record::{Outcome, RequestRecord};
use super::sse::SseParser;

/// A pooled HTTP/1.1 client (a connection per request in flight).
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A client with no idle-connection limit, Nagle off.
pub fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    Client::builder(TokioExecutor::new()).build(connector)
}

/// The JSON body of one request.
pub fn body(api: Api, model: &str, prompt: &str, max_tokens: u32, stream: bool) -> Bytes {
    let mut body = match api {
        Api::Completions => json!({"model": model, "prompt": prompt, "max_tokens": max_tokens}),
        Api::Chat => json!({
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
        }),
    };
    body["stream"] = json!(stream);
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    Bytes::from(body.to_string())
}

/// What one request needs besides the client.
pub struct Call<'a> {
    /// The endpoint.
    pub uri: &'a hyper::Uri,
    /// The encoded body.
    pub body: Bytes,
    /// Streamed or whole.
    pub stream: bool,
    /// When it was meant to leave: every time is measured from here.
    pub intended: Instant,
    /// When it times out.
    pub deadline: Instant,
    /// Which model (index), for the record.
    pub model: usize,
}

/// Sends `call` and reads its answer to the end, the deadline, or a failure.
pub async fn send(client: &HttpClient, call: Call<'_>) -> RequestRecord {
    let since = |t: Instant| t.saturating_duration_since(call.intended).as_nanos() as u64;
    let mut record = RequestRecord::new(call.model, since(Instant::now()));
    let deadline = tokio::time::Instant::from_std(call.deadline);
    let response = loop {
        let mut request = Request::post(call.uri.clone())
            .body(Full::new(call.body.clone()))
            .expect("a POST with a parsed URI is a valid request; this is a bug");
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match tokio::time::timeout_at(deadline, client.request(request)).await {
            Err(_) => return record, // timed out before any answer
            Ok(Err(e)) if closed_before_answering(&e) && record.resent < MAX_RESENDS => {
                record.resent += 1;
            }
            Ok(Err(e)) => {
                record.outcome = Outcome::Failed(format!("cannot send ({})", error_chain(&e)));
                return record;
            }
            Ok(Ok(response)) => break response,
        }
    };
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = response.into_body();
    let events =
        status.is_success() && call.stream && content_type.starts_with("text/event-stream");
    if !events {
        let whole = read_whole(&mut body, deadline).await;
        let Some(whole) = whole else {
            return record; // timed out
        };
        let end = since(Instant::now());
        let text = String::from_utf8_lossy(&whole);
        record.outcome = if !status.is_success() {
            Outcome::Failed(format!("HTTP {status}: {}", quote(&text)))
        } else if call.stream {
            Outcome::Failed(format!(
                "asked for a stream, got Content-Type '{content_type}': {}",
                quote(&text)
            ))
        } else {
            match chunk::parse(&text) {
                Ok(c) => {
                    // No first token is seen before the whole answer: TTFT stays absent.
                    record.end_ns = Some(end);
                    record.text = c.text;
                    record.usage = c.usage.map(|u| (u.prompt, u.completion));
                    Outcome::Completed
                }
                Err(why) => Outcome::Failed(why),
            }
        };
        return record;
    }
    read_stream(&mut body, deadline, &mut record, since).await;
    record
}

/// Reads a stream of events into `record` until `[DONE]`, its end, or the deadline.
async fn read_stream(
    body: &mut Incoming,
    deadline: tokio::time::Instant,
    record: &mut RequestRecord,
    since: impl Fn(Instant) -> u64,
) {
    let mut parser = SseParser::new();
    let mut done = false;
    let mut finished = false; // a finish_reason came
    let ended = loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                record.outcome = Outcome::TimedOut;
                return;
            }
            Ok(frame) => frame,
        };
        let now = since(Instant::now());
        let data = match frame {
            None => break now,
            Some(Err(e)) => {
                let n = record.chunk_ns.len();
                record.outcome = Outcome::CutShort(format!(
                    "the connection broke after {n} text chunks ({})",
                    error_chain(&e)
                ));
                return;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers
            },
        };
        for event in parser.feed(&data) {
            if done {
                continue;
            }
            if event.trim() == "[DONE]" {
                done = true;
                record.end_ns = Some(now);
                continue;
            }
            match chunk::parse(&event) {
                Ok(c) => {
                    if !c.text.is_empty() {
                        record.chunk_ns.push(now);
                        record.text.push_str(&c.text);
                    }
                    finished |= c.finish_reason.is_some();
                    if let Some(u) = c.usage {
                        record.usage = Some((u.prompt, u.completion));
                    }
                }
                Err(why) => {
                    record.outcome = Outcome::Failed(why);
                    return;
                }
            }
        }
    };
    let n = record.chunk_ns.len();
    record.outcome = if done {
        Outcome::Completed
    } else if parser.mid_event() {
        Outcome::CutShort(format!(
            "the stream stopped inside an event after {n} text chunks"
        ))
    } else if finished {
        // Some servers (transformers serve) end the body after the finish_reason and
        // never send [DONE]: whole all the same, ending when the body did.
        record.end_ns = Some(ended);
        record.without_done = true;
        Outcome::Completed
    } else {
        Outcome::CutShort(format!(
            "the stream ended without a finish_reason or data: [DONE] after {n} text chunks"
        ))
    };
}

/// The whole body, or `None` at the deadline (a broken body gives what came).
async fn read_whole(body: &mut Incoming, deadline: tokio::time::Instant) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return None,
            Ok(None) | Ok(Some(Err(_))) => return Some(out),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

/// An error with its causes, on one line.
/// How many times a request is sent again on another connection after the server
/// closed the one it went out on before answering (see [`closed_before_answering`]).
const MAX_RESENDS: u32 = 3;

/// Whether the connection closed before any byte of an answer: a kept-alive
/// connection the server had already closed. Some servers close every connection
/// after a streamed answer while advertising keep-alive (llama.cpp's server does);
/// the pool hands the connection out again before the close arrives, and the request
/// dies unread. Sending it again on another connection measures the server instead
/// of that race; the request's times still count from its intended send time, so
/// the lost attempt is in its latency, and the run says how many were sent again.
/// A server that closes with the request unread resets the connection instead
/// (reset, broken pipe): the same race, told apart from a request the server
/// answered by there being no byte of an answer. A server that resets every new
/// connection still fails each request after [`MAX_RESENDS`] tries.
fn closed_before_answering(e: &hyper_util::client::legacy::Error) -> bool {
    let Some(h) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<hyper::Error>())
    else {
        return false;
    };
    let mut source = std::error::Error::source(h);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
            return matches!(io.kind(), ConnectionReset | BrokenPipe);
        }
        source = s.source();
    }
    h.is_incomplete_message()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}
