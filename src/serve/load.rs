//! Loading a served model: the pipeline started and warmed up by its own
//! [`Server`], one probe request that learns the output's type and shape, the
//! model's signature on the wire, and the engine opened.

use std::sync::Arc;
use std::time::Duration;

use super::engine::{self, Engine};
use super::signature::{InputSlot, SampleRange, Signature, IMAGE_INPUT};
use super::{preprocess, ServeOptions};
use crate::config::{CompileMode, ModelFile, RunConfig};
use crate::error::{Error, Result};
use crate::pipeline::Server;

/// The started pipeline, answering to the engine.
pub(super) type Loaded = Server;

pub(super) fn load(
    cfg: &RunConfig,
    options: &ServeOptions,
    engine: &Arc<Engine>,
    progress: &dyn Fn(&str),
) -> Result<Loaded> {
    let device = crate::device::open(cfg.backend.device)?;
    let mut say = |line: &str| progress(line);
    let server = Server::start(cfg, device, &mut say)?;
    let queues = server.queues();
    progress("probing the output");
    let probe = server.workload().inputs_of(0);
    let mut meta =
        crate::request::RequestMeta::new(queues.first_id, cfg.load.batch_size, queues.clock.now());
    meta.stamps.set(
        crate::request::Stamp::Sent,
        meta.stamps.get(crate::request::Stamp::Intended),
    );
    queues
        .requests
        .send(crate::request::Request {
            meta,
            payload: probe,
        })
        .map_err(|_| Error::Pipeline("the pipeline stopped before the probe".into()))?;
    let output = queues
        .responses
        .recv_timeout(Duration::from_secs(600))
        .map_err(|_| Error::Pipeline("the probe request got no answer in 10 minutes".into()))??
        .payload;
    let datatype = crate::oip::torch::datatype_of(output.kind()).ok_or_else(|| {
        Error::Pipeline(format!(
            "the model's output has element type {:?}, which the protocol cannot carry",
            output.kind()
        ))
    })?;
    let per_sample = output.size()[1..].to_vec();
    let specs = cfg.model.input_specs();
    let prep = match options.preprocess_threads {
        Some(threads) => Some(preprocess::PrepPool::start(
            preprocess::ImagePrep::for_inputs(&specs)?,
            threads,
        )?),
        None => None,
    };
    let signature = Signature {
        model: engine.model.clone(),
        inputs: specs
            .iter()
            .enumerate()
            .map(|(k, spec)| InputSlot {
                name: format!("input__{k}"),
                spec: spec.clone(),
            })
            .collect(),
        outputs: options.postprocess.outputs(datatype, &per_sample)?,
        samples: sample_range(cfg),
        image_input: prep.as_ref().map(|_| IMAGE_INPUT.to_string()),
    };
    let ready = engine::Ready {
        signature,
        clock: queues.clock,
        postprocess: options.postprocess,
        prep,
        kinds: specs.iter().map(|s| s.dtype.kind()).collect(),
    };
    let mut queues = queues;
    queues.first_id += 1;
    engine.open(&server, queues, ready)?;
    Ok(server)
}

/// How many samples one request may carry: up to `--batch-size`, or exactly that
/// for an AOTInductor package compiled for one batch size (without dynamic batching
/// a built-in model's package is exported for that batch; a user's package is
/// taken as the probe ran it).
fn sample_range(cfg: &RunConfig) -> SampleRange {
    let batch = cfg.load.batch_size;
    let aoti_file = matches!(ModelFile::find(&cfg.model.name), Some((kind, ..)) if kind.as_saved() == CompileMode::AotInductor);
    let static_batch = cfg.model.compile == CompileMode::AotInductor
        && (aoti_file || matches!(cfg.backend.batching, crate::config::BatchPolicy::None));
    if static_batch {
        SampleRange::Exactly(batch)
    } else {
        SampleRange::UpTo(batch)
    }
}
