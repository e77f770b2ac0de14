//! The network fronts' tasks: the REST listener with graceful shutdown of its
//! connections, and the gRPC server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::engine::Engine;
use super::{grpc, http, Listening, ServeOptions};
use crate::error::{Error, Result};

/// The two fronts' tasks.
pub(super) struct Fronts {
    pub(super) listening: Listening,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fronts {
    /// Waits for the fronts to stop (they stop accepting at once, then wait for
    /// requests in flight), at most `drain` long.
    pub(super) async fn join(self, drain: Duration) {
        let all = futures_join(self.tasks);
        let _ = tokio::time::timeout(drain, all).await;
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

pub(super) async fn start_fronts(
    engine: &Arc<Engine>,
    options: &ServeOptions,
    stop: watch::Receiver<bool>,
) -> Result<Fronts> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr).await.map_err(|e| {
            Error::Pipeline(format!(
                "cannot listen on {addr}: {e}; choose another port (--http-port, --grpc-port; 0 takes any free one)"
            ))
        })
    };
    let http = bind(options.http).await?;
    let grpc = match options.grpc {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let local = |l: &TcpListener| {
        l.local_addr()
            .map_err(|e| Error::Pipeline(format!("cannot read the listening address: {e}")))
    };
    let listening = Listening {
        http: local(&http)?,
        grpc: grpc.as_ref().map(local).transpose()?,
    };
    let mut tasks = vec![tokio::spawn(accept_http(
        http,
        Arc::clone(engine),
        options.max_body,
        stop.clone(),
    ))];
    if let Some(listener) = grpc {
        tasks.push(tokio::spawn(serve_grpc(
            listener,
            Arc::clone(engine),
            options.max_body,
            stop,
        )));
    }
    Ok(Fronts { listening, tasks })
}

async fn accept_http(
    listener: TcpListener,
    engine: Arc<Engine>,
    max_body: usize,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((stream, _)) = accepted else {
            continue; // a connection that failed before it was ours
        };
        let _ = stream.set_nodelay(true);
        let engine = Arc::clone(&engine);
        let service =
            hyper::service::service_fn(move |req| http::handle(req, Arc::clone(&engine), max_body));
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn serve_grpc(
    listener: TcpListener,
    engine: Arc<Engine>,
    max_body: usize,
    mut stop: watch::Receiver<bool>,
) {
    use crate::oip::grpc::grpc_inference_service_server::GrpcInferenceServiceServer;
    let service = GrpcInferenceServiceServer::new(grpc::GrpcFront { engine })
        .max_decoding_message_size(max_body)
        .max_encoding_message_size(usize::MAX);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let served = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = served {
        eprintln!("[serve] the gRPC front stopped: {e}");
    }
}
