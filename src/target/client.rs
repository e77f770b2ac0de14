//! The network client of a target: the protocol's REST side over a pool of
//! HTTP/1.1 connections (or HTTP/2 with prior knowledge), or its gRPC side over
//! HTTP/2 channels. Requests are encoded before timing starts ([`Encoded`]); each
//! answer is read whole and checked (outputs present, one row per sample), so that
//! a server answering errors or nonsense cannot pass for a fast one.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tonic::transport::{Channel, Endpoint};

use crate::config::target::{Encoding, Protocol, TargetConfig, TargetUrl};
use crate::error::{Error, Result};
use crate::oip::binary::HEADER_LENGTH;
use crate::oip::grpc::grpc_inference_service_client::GrpcInferenceServiceClient;
use crate::oip::grpc::{ModelInferRequest, ModelMetadataRequest};
use crate::oip::json::{ErrorBody, ModelMetadata, ServerMetadata, TensorMetadata};

/// How long connecting, and a metadata call, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One request, encoded for the wire before timing starts.
#[derive(Debug, Clone)]
pub enum Encoded {
    /// A REST body, with the binary extension's header length when it has binary data.
    Http {
        /// The body.
        body: Bytes,
        /// `Inference-Header-Content-Length`.
        header_len: Option<usize>,
    },
    /// A gRPC request message.
    Grpc(ModelInferRequest),
}

/// A connected client.
#[derive(Clone)]
pub enum NetClient {
    /// REST.
    Http {
        /// The connection pool.
        client: Client<HttpConnector, Full<Bytes>>,
        /// Where the target is.
        url: TargetUrl,
        /// `…/infer`, parsed once.
        infer: hyper::Uri,
    },
    /// gRPC: one client per channel, used in turn.
    Grpc {
        /// The channels' clients.
        clients: Vec<GrpcInferenceServiceClient<Channel>>,
        /// Where the target is.
        url: TargetUrl,
    },
}

fn target_error(url: &TargetUrl, what: impl std::fmt::Display) -> Error {
    Error::Target(format!("{url}: {what}"))
}

impl NetClient {
    /// Connects to `target` with `connections` connections (REST: a pool that
    /// grows to that many; gRPC: that many channels).
    pub async fn connect(target: &TargetConfig, connections: u32) -> Result<Self> {
        let url = target.url.clone();
        match url.protocol {
            Protocol::Http => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
                let client = Client::builder(TokioExecutor::new())
                    .pool_max_idle_per_host(connections as usize)
                    .http2_only(target.http2)
                    .build(connector);
                let infer = format!("{}{}/infer", url.origin(), url.model_path())
                    .parse()
                    .map_err(|e| target_error(&url, format!("not a valid URL: {e}")))?;
                Ok(NetClient::Http { client, url, infer })
            }
            Protocol::Grpc => {
                let mut clients = Vec::new();
                for _ in 0..connections.max(1) {
                    let endpoint = Endpoint::from_shared(url.origin())
                        .map_err(|e| target_error(&url, format!("not a valid URL: {e}")))?
                        .tcp_nodelay(true)
                        .connect_timeout(CONNECT_TIMEOUT);
                    let channel = endpoint.connect().await.map_err(|e| {
                        target_error(
                            &url,
                            format!(
                                "cannot connect ({}); is the server running?",
                                source_chain(&e)
                            ),
                        )
                    })?;
                    clients.push(
                        GrpcInferenceServiceClient::new(channel)
                            .max_decoding_message_size(usize::MAX)
                            .max_encoding_message_size(usize::MAX),
                    );
                }
                Ok(NetClient::Grpc { clients, url })
            }
        }
    }

    /// Where the target is.
    pub fn url(&self) -> &TargetUrl {
        match self {
            NetClient::Http { url, .. } | NetClient::Grpc { url, .. } => url,
        }
    }

    /// The server's name and version (`GET /v2`, ServerMetadata).
    pub async fn server(&self) -> Result<ServerMetadata> {
        match self {
            NetClient::Http { url, .. } => {
                let body = self.get("/v2").await?;
                serde_json::from_slice(&body)
                    .map_err(|e| target_error(url, format!("GET /v2 is not server metadata: {e}")))
            }
            NetClient::Grpc { clients, url } => {
                let reply = clients[0]
                    .clone()
                    .server_metadata(crate::oip::grpc::ServerMetadataRequest {})
                    .await
                    .map_err(|s| target_error(url, format!("ServerMetadata: {}", status_text(&s))))?
                    .into_inner();
                Ok(ServerMetadata {
                    name: reply.name,
                    version: reply.version,
                    extensions: reply.extensions,
                })
            }
        }
    }

    /// The model's metadata; an error names a model the server does not have.
    pub async fn metadata(&self) -> Result<ModelMetadata> {
        match self {
            NetClient::Http { url, .. } => {
                let body = self.get(&url.model_path()).await?;
                serde_json::from_slice(&body).map_err(|e| {
                    target_error(url, format!("the model's metadata is malformed: {e}"))
                })
            }
            NetClient::Grpc { clients, url } => {
                let request = ModelMetadataRequest {
                    name: url.model.clone(),
                    version: url.version.clone().unwrap_or_default(),
                };
                let reply = clients[0]
                    .clone()
                    .model_metadata(request)
                    .await
                    .map_err(|s| target_error(url, format!("ModelMetadata: {}", status_text(&s))))?
                    .into_inner();
                let tensors =
                    |list: Vec<crate::oip::grpc::model_metadata_response::TensorMetadata>| {
                        list.into_iter()
                            .map(|t| TensorMetadata {
                                name: t.name,
                                datatype: t.datatype,
                                shape: t.shape,
                            })
                            .collect()
                    };
                Ok(ModelMetadata {
                    name: reply.name,
                    versions: reply.versions,
                    platform: reply.platform,
                    inputs: tensors(reply.inputs),
                    outputs: tensors(reply.outputs),
                })
            }
        }
    }

    async fn get(&self, path: &str) -> Result<Bytes> {
        let NetClient::Http { client, url, .. } = self else {
            unreachable!("REST only");
        };
        let uri: hyper::Uri = format!("{}{path}", url.origin())
            .parse()
            .map_err(|e| target_error(url, format!("not a valid URL: {e}")))?;
        let call = client.get(uri);
        let response = tokio::time::timeout(CONNECT_TIMEOUT, call)
            .await
            .map_err(|_| {
                target_error(url, format!("GET {path}: no answer in {CONNECT_TIMEOUT:?}"))
            })?
            .map_err(|e| {
                target_error(
                    url,
                    format!("GET {path}: {}; is the server running?", source_chain(&e)),
                )
            })?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| target_error(url, format!("GET {path}: {e}")))?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(target_error(
                url,
                format!("GET {path}: {}", http_error(status, &body)),
            ));
        }
        Ok(body)
    }

    /// Sends one request and reads its answer whole (not yet decoded); `k` picks
    /// the gRPC channel.
    pub async fn send(&self, request: &Encoded, k: u64) -> Result<super::answer::Answer> {
        match (self, request) {
            (NetClient::Http { client, url, infer }, Encoded::Http { body, header_len }) => {
                let mut req = Request::post(infer.clone());
                if let Some(n) = header_len {
                    req = req
                        .header(HEADER_LENGTH, HeaderValue::from(*n))
                        .header(CONTENT_TYPE, "application/octet-stream");
                } else {
                    req = req.header(CONTENT_TYPE, "application/json");
                }
                let req = req
                    .body(Full::new(body.clone()))
                    .map_err(|e| target_error(url, format!("building the request: {e}")))?;
                let response = client
                    .request(req)
                    .await
                    .map_err(|e| target_error(url, source_chain(&e)))?;
                let status = response.status();
                let header_len = response
                    .headers()
                    .get(HEADER_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok());
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| {
                        target_error(url, format!("reading the answer: {}", source_chain(&e)))
                    })?
                    .to_bytes();
                if status != StatusCode::OK {
                    return Err(target_error(url, http_error(status, &body)));
                }
                Ok(super::answer::Answer::Http { body, header_len })
            }
            (NetClient::Grpc { clients, url }, Encoded::Grpc(message)) => {
                let mut client = clients[(k % clients.len() as u64) as usize].clone();
                let reply = client
                    .model_infer(message.clone())
                    .await
                    .map_err(|s| target_error(url, status_text(&s)))?;
                Ok(super::answer::Answer::Grpc(reply.into_inner()))
            }
            _ => Err(Error::Target(
                "a request encoded for the other protocol; this is a bug".into(),
            )),
        }
    }
}

fn http_error(status: StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => format!("HTTP {status}: {}", e.error),
        Err(_) => format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)]).trim()
        ),
    }
}

fn status_text(s: &tonic::Status) -> String {
    format!("gRPC {:?}: {}", s.code(), s.message())
}

/// An error and its causes, joined: hyper's own message ("client error (Connect)")
/// names no cause.
fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// How REST requests carry tensors: as asked, or binary where the server lists the
/// binary tensor data extension and JSON where it does not (a server without it,
/// such as MLServer, fails binary bodies).
pub fn choose_encoding(
    target: &TargetConfig,
    server: Option<&ServerMetadata>,
    progress: &mut dyn FnMut(&str),
) -> Encoding {
    if target.url.protocol == Protocol::Grpc {
        return Encoding::Binary;
    }
    let listed = server.is_some_and(|s| s.extensions.iter().any(|e| e == "binary_tensor_data"));
    match target.encoding {
        Some(Encoding::Binary) if !listed => {
            progress("the server does not list the binary tensor data extension; sending binary tensors as asked");
            Encoding::Binary
        }
        Some(chosen) => chosen,
        None if listed => Encoding::Binary,
        None => {
            progress(
                "the server does not list the binary tensor data extension: sending JSON tensors",
            );
            Encoding::Json
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_as_the_protocol_writes_them() {
        let text = http_error(StatusCode::BAD_REQUEST, br#"{"error":"bad shape"}"#);
        assert_eq!(text, "HTTP 400 Bad Request: bad shape");
        let text = http_error(StatusCode::BAD_GATEWAY, b"<html>upstream</html>");
        assert!(text.contains("502") && text.contains("upstream"));
    }
}
