//! The protocol's gRPC side: `inference.GRPCInferenceService` (ServerLive,
//! ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelInfer with raw or
//! typed contents; outputs always as raw contents, as Triton answers). A refusal is
//! the status code the protocol gives its HTTP status (INVALID_ARGUMENT,
//! NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE, INTERNAL).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::engine::{Engine, Tracked};
use super::http::server_metadata;
use super::infer::answer;
use super::timeline::Timeline;
use crate::oip::grpc::grpc_inference_service_server::GrpcInferenceService;
use crate::oip::grpc::{
    infer_response, model_metadata_response::TensorMetadata, request_inputs, ModelInferRequest,
    ModelInferResponse, ModelMetadataRequest, ModelMetadataResponse, ModelReadyRequest,
    ModelReadyResponse, ServerLiveRequest, ServerLiveResponse, ServerMetadataRequest,
    ServerMetadataResponse, ServerReadyRequest, ServerReadyResponse,
};
use crate::oip::{Refusal, RefusalKind};

/// The gRPC service over the shared [`Engine`].
pub struct GrpcFront {
    /// The bridge to the pipeline.
    pub engine: Arc<Engine>,
}

fn status(refusal: &Refusal) -> Status {
    let message = refusal.message.clone();
    match refusal.kind {
        RefusalKind::BadRequest => Status::invalid_argument(message),
        RefusalKind::NotFound => Status::not_found(message),
        RefusalKind::TooLarge => Status::resource_exhausted(message),
        RefusalKind::Unavailable => Status::unavailable(message),
        RefusalKind::Internal => Status::internal(message),
    }
}

impl GrpcFront {
    fn check_model(&self, name: &str) -> Result<(), Refusal> {
        if name == self.engine.model {
            Ok(())
        } else {
            Err(Refusal::not_found(format!(
                "unknown model '{name}': this server serves '{}'",
                self.engine.model
            )))
        }
    }

    async fn infer(
        &self,
        request: ModelInferRequest,
        t: &mut Timeline,
    ) -> Result<ModelInferResponse, Refusal> {
        let ready = self.engine.ready().ok_or_else(|| self.engine.not_ready())?;
        t.arrived = ready.clock.now();
        t.read = t.arrived;
        let id = request.id.clone();
        let inputs = request_inputs(request)?;
        let outputs = answer(&self.engine, ready, inputs, t).await?;
        let response = infer_response(&self.engine.model, id, &outputs);
        t.encoded = ready.clock.now();
        Ok(response)
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for GrpcFront {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse {
            live: self.engine.live(),
        }))
    }

    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse {
            ready: self.engine.ready().is_some(),
        }))
    }

    async fn model_ready(
        &self,
        r: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        self.check_model(&r.get_ref().name)
            .map_err(|e| status(&e))?;
        Ok(Response::new(ModelReadyResponse {
            ready: self.engine.ready().is_some(),
        }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        let m = server_metadata();
        Ok(Response::new(ServerMetadataResponse {
            name: m.name,
            version: m.version,
            extensions: m.extensions,
        }))
    }

    async fn model_metadata(
        &self,
        r: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        self.check_model(&r.get_ref().name)
            .map_err(|e| status(&e))?;
        let ready = self
            .engine
            .loaded()
            .ok_or_else(|| status(&self.engine.not_ready()))?;
        let m = ready.signature.metadata(super::PLATFORM);
        let tensors = |list: Vec<crate::oip::json::TensorMetadata>| {
            list.into_iter()
                .map(|t| TensorMetadata {
                    name: t.name,
                    datatype: t.datatype,
                    shape: t.shape,
                })
                .collect()
        };
        Ok(Response::new(ModelMetadataResponse {
            name: m.name,
            versions: m.versions,
            platform: m.platform,
            inputs: tensors(m.inputs),
            outputs: tensors(m.outputs),
        }))
    }

    async fn model_infer(
        &self,
        r: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        // Another model's request: refused, and not counted as this model's failure.
        self.check_model(&r.get_ref().model_name)
            .map_err(|e| status(&e))?;
        let tracked = Tracked::start(&self.engine);
        let mut t = Timeline::default();
        match self.infer(r.into_inner(), &mut t).await {
            Ok(response) => {
                tracked.answered(&t);
                Ok(Response::new(response))
            }
            Err(refusal) => {
                tracked.refused(&refusal);
                Err(status(&refusal))
            }
        }
    }
}
