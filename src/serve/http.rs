//! The protocol's REST side (HTTP/1.1 and HTTP/2 on one port, as the client
//! chooses) and the Prometheus endpoint:
//!
//! ```text
//! GET  /v2/health/live                  200 while the pipeline is up
//! GET  /v2/health/ready                 200 once the model is warm, 503 before and while stopping
//! GET  /v2                              server metadata
//! GET  /v2/models/{name}[/versions/{v}]          model metadata
//! GET  /v2/models/{name}[/versions/{v}]/ready    model readiness
//! POST /v2/models/{name}[/versions/{v}]/infer    inference: JSON, or JSON then binary data
//! GET  /metrics                         Prometheus text format
//! ```
//! Errors are the protocol's `{"error": "…"}` with 400, 404, 405, 413, 500 or 503.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::engine::{Engine, Tracked};
use super::infer::answer;
use super::timeline::Timeline;
use crate::oip::binary::{decode_request, encode_response, Body, HEADER_LENGTH};
use crate::oip::json::{ErrorBody, ServerMetadata};
use crate::oip::Refusal;

/// The server's name in its metadata.
pub const SERVER_NAME: &str = "inferbench";

/// The protocol extensions the server supports.
pub const EXTENSIONS: [&str; 2] = ["binary_tensor_data", "metrics"];

type Reply = Response<Full<Bytes>>;

/// Answers one HTTP request; never fails (errors are responses).
pub async fn handle(
    req: Request<Incoming>,
    engine: Arc<Engine>,
    max_body: usize,
) -> Result<Reply, Infallible> {
    let path: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    let reply = match (req.method(), path.as_slice()) {
        (&Method::GET, ["v2", "health", "live"]) => health(engine.live(), "live"),
        (&Method::GET, ["v2", "health", "ready"]) => health(engine.ready().is_some(), "ready"),
        (&Method::GET, ["v2"]) => json(StatusCode::OK, &server_metadata()),
        (&Method::GET, ["metrics"]) => text(engine.metrics.render()),
        (_, ["v2", "models", name, rest @ ..]) => {
            let name = (*name).to_string();
            match model_route(rest) {
                Some(route) => model(req, &engine, &name, route, max_body).await,
                None => not_found(&req),
            }
        }
        (_, ["v2", "health", "live" | "ready"] | ["v2"] | ["metrics"]) => method_not_allowed(&req),
        _ => not_found(&req),
    };
    Ok(reply)
}

/// The protocol's server metadata.
pub fn server_metadata() -> ServerMetadata {
    ServerMetadata {
        name: SERVER_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: EXTENSIONS.iter().map(|e| e.to_string()).collect(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ModelRoute {
    Metadata,
    Ready,
    Infer,
}

/// `[versions/V][/ready | /infer]` after a model's name.
fn model_route(rest: &[&str]) -> Option<ModelRoute> {
    let rest = match rest {
        ["versions", _, tail @ ..] => tail,
        other => other,
    };
    match rest {
        [] => Some(ModelRoute::Metadata),
        ["ready"] => Some(ModelRoute::Ready),
        ["infer"] => Some(ModelRoute::Infer),
        _ => None,
    }
}

async fn model(
    req: Request<Incoming>,
    engine: &Engine,
    name: &str,
    route: ModelRoute,
    max_body: usize,
) -> Reply {
    let method_ok = match route {
        ModelRoute::Infer => req.method() == Method::POST,
        _ => req.method() == Method::GET,
    };
    if !method_ok {
        return method_not_allowed(&req);
    }
    // A request for a model this server does not have is nobody's failure: no
    // model's metrics count it (as Triton's do not).
    if name != engine.model {
        return error(&Refusal::not_found(format!(
            "unknown model '{name}': this server serves '{}'",
            engine.model
        )));
    }
    match route {
        ModelRoute::Metadata => match engine.loaded() {
            Some(ready) => json(StatusCode::OK, &ready.signature.metadata(super::PLATFORM)),
            None => error(&engine.not_ready()),
        },
        ModelRoute::Ready => health(engine.ready().is_some(), "ready"),
        ModelRoute::Infer => infer(req, engine, max_body).await,
    }
}

async fn infer(req: Request<Incoming>, engine: &Engine, max_body: usize) -> Reply {
    let tracked = Tracked::start(engine);
    let Some(ready) = engine.ready() else {
        let refusal = engine.not_ready();
        tracked.refused(&refusal);
        return error(&refusal);
    };
    let mut t = Timeline {
        arrived: ready.clock.now(),
        ..Timeline::default()
    };
    let (header_len, body) = match read_body(req, max_body).await {
        Ok(read) => read,
        Err(Unread::TooLarge(refusal)) => {
            tracked.refused(&refusal);
            return error(&refusal);
        }
        // Nobody reads this answer; the request counts as canceled.
        Err(Unread::Gone(refusal)) => return error(&refusal),
    };
    t.read = ready.clock.now();
    let result = async {
        let request = decode_request(&body, header_len)?;
        let outputs = answer(engine, ready, request.inputs, &mut t).await?;
        let body = encode_response(&engine.model, request.id, &outputs, &request.outputs);
        t.encoded = ready.clock.now();
        Ok::<Body, Refusal>(body)
    }
    .await;
    match result {
        Ok(body) => {
            tracked.answered(&t);
            let content_type = match body.header_len {
                Some(_) => "application/octet-stream",
                None => "application/json",
            };
            let mut reply = Response::new(Full::new(body.bytes));
            let headers = reply.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Some(n) = body.header_len {
                headers.insert(HEADER_LENGTH, HeaderValue::from(n));
            }
            reply
        }
        Err(refusal) => {
            tracked.refused(&refusal);
            error(&refusal)
        }
    }
}

/// Why a request body was not read.
enum Unread {
    /// Past the limit (413), or its header length is malformed (400).
    TooLarge(Refusal),
    /// The client went away before sending it all.
    Gone(Refusal),
}

/// The whole body, refused with 413 past `max` bytes (before reading it when the
/// client says its length), and the binary extension's header length.
async fn read_body(req: Request<Incoming>, max: usize) -> Result<(Option<usize>, Bytes), Unread> {
    let too_large = |n: Option<u64>| {
        let size = n.map_or_else(|| "more than that".to_string(), |n| format!("{n} bytes"));
        Refusal::too_large(format!(
            "the request body is {size}; this server takes at most {max} bytes (--max-body)"
        ))
    };
    let headers = req.headers();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Unread::TooLarge(too_large(declared)));
    }
    let header_len = match headers.get(HEADER_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    Unread::TooLarge(Refusal::bad_request(format!(
                        "{HEADER_LENGTH} is not a whole number of bytes"
                    )))
                })?,
        ),
    };
    match Limited::new(req.into_body(), max).collect().await {
        Ok(collected) => Ok((header_len, collected.to_bytes())),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Unread::TooLarge(too_large(None)))
        }
        Err(e) => Err(Unread::Gone(Refusal::bad_request(format!(
            "the request body could not be read: {e}"
        )))),
    }
}

fn health(ok: bool, what: &str) -> Reply {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &serde_json::json!({ what: ok }))
}

fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Reply {
    let bytes = serde_json::to_vec(body).expect("protocol bodies serialise; this is a bug");
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

fn text(body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    reply
}

fn error(refusal: &Refusal) -> Reply {
    let status = StatusCode::from_u16(refusal.http_status()).expect("protocol statuses are valid");
    json(
        status,
        &ErrorBody {
            error: refusal.message.clone(),
        },
    )
}

fn not_found(req: &Request<Incoming>) -> Reply {
    error(&Refusal::not_found(format!(
        "no such endpoint: {} {} (see /v2, /v2/models/NAME, /v2/health/ready, /metrics)",
        req.method(),
        req.uri().path()
    )))
}

fn method_not_allowed(req: &Request<Incoming>) -> Reply {
    let mut reply = json(
        StatusCode::METHOD_NOT_ALLOWED,
        &ErrorBody {
            error: format!("{} is not allowed on {}", req.method(), req.uri().path()),
        },
    );
    *reply.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_routes_take_an_optional_version() {
        assert!(model_route(&[]) == Some(ModelRoute::Metadata));
        assert!(model_route(&["versions", "1", "infer"]) == Some(ModelRoute::Infer));
        assert!(model_route(&["versions", "1"]) == Some(ModelRoute::Metadata));
        assert!(model_route(&["ready"]) == Some(ModelRoute::Ready));
        assert!(model_route(&["infer", "x"]).is_none());
    }
}
