//! One inference, the same for HTTP and gRPC once the request is read: check the
//! inputs against the model, build the host tensors (or decode the images on the
//! pre-processing pool), run them through the pipeline, post-process the output.
//! Each step stamps the request's [`Timeline`].

use tch::Tensor;

use super::engine::{Engine, Ready};
use super::timeline::Timeline;
use crate::oip::torch::to_torch;
use crate::oip::{Refusal, TensorData, WireTensor};

/// Answers `inputs`; the outputs are the post-processed ones, ready to encode.
pub async fn answer(
    engine: &Engine,
    ready: &Ready,
    inputs: Vec<WireTensor>,
    t: &mut Timeline,
) -> Result<Vec<WireTensor>, Refusal> {
    let clock = ready.clock;
    let checked = ready.signature.check(inputs)?;
    let (host, handed_over) = match &ready.prep {
        Some(pool) => {
            let [tensor] = <[WireTensor; 1]>::try_from(checked.tensors)
                .map_err(|_| Refusal::internal("image requests carry one tensor; this is a bug"))?;
            let TensorData::Strings(images) = tensor.data else {
                return Err(Refusal::internal(
                    "checked images are byte strings; this is a bug",
                ));
            };
            t.decoded = clock.now();
            let x = pool.decode(images).await?;
            t.preprocessed = clock.now();
            (vec![x], t.preprocessed)
        }
        None => {
            let host = checked
                .tensors
                .iter()
                .zip(&ready.kinds)
                .map(|(w, &kind)| to_torch(w, kind))
                .collect::<Result<Vec<Tensor>, Refusal>>()?;
            t.decoded = clock.now();
            (host, t.decoded)
        }
    };
    let (meta, output) = engine.infer(host, checked.samples, handed_over).await?;
    t.resumed = clock.now();
    t.pipeline = Some(meta);
    let outputs = ready
        .postprocess
        .apply(&output)
        .map_err(|e| Refusal::internal(format!("post-processing failed: {e}")))?;
    t.postprocessed = clock.now();
    Ok(outputs)
}
