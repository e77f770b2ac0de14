//! Where a served request's time goes on the server: the network front's own
//! stages around the pipeline's. Every stage runs from one stamp to the next, so
//! the stages add up to the request's time on the server exactly (headers read to
//! response body built; writing it out is the network's).
//!
//! ```text
//! receive     headers read → body read
//! decode      body read → input tensors built (JSON or binary data, checked)
//! preprocess  → images decoded, resized, normalised (with --preprocess image)
//! queue … response   the pipeline's own stages (request queue to response queue)
//! resume      response taken off the queue → the request's network task running again
//! postprocess → softmax / top-k done
//! encode      → response body built
//! ```

use crate::request::{RequestMeta, Stage, Stamp};

/// A server stage, in the order a request passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStage {
    /// Headers read to body read.
    Receive,
    /// Body read to input tensors built.
    Decode,
    /// Encoded images to the model's input tensor.
    Preprocess,
    /// One of the pipeline's stages.
    Pipeline(Stage),
    /// Off the response queue to the request's task running again.
    Resume,
    /// Softmax or top-k.
    Postprocess,
    /// The response body built.
    Encode,
}

impl ServerStage {
    /// Every stage, in order.
    pub const ALL: [ServerStage; 12] = [
        ServerStage::Receive,
        ServerStage::Decode,
        ServerStage::Preprocess,
        ServerStage::Pipeline(Stage::Queue),
        ServerStage::Pipeline(Stage::Batch),
        ServerStage::Pipeline(Stage::CopyIn),
        ServerStage::Pipeline(Stage::Compute),
        ServerStage::Pipeline(Stage::CopyOut),
        ServerStage::Pipeline(Stage::Response),
        ServerStage::Resume,
        ServerStage::Postprocess,
        ServerStage::Encode,
    ];

    /// The name in metrics and summaries.
    pub fn name(self) -> &'static str {
        match self {
            ServerStage::Receive => "receive",
            ServerStage::Decode => "decode",
            ServerStage::Preprocess => "preprocess",
            ServerStage::Pipeline(stage) => stage.name(),
            ServerStage::Resume => "resume",
            ServerStage::Postprocess => "postprocess",
            ServerStage::Encode => "encode",
        }
    }
}

/// One request's stamps on the server, readings of the pipeline's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeline {
    /// Headers read.
    pub arrived: u64,
    /// Body read.
    pub read: u64,
    /// Input tensors built.
    pub decoded: u64,
    /// Images decoded; 0 without pre-processing.
    pub preprocessed: u64,
    /// The pipeline's stamps (its intended send is when the front handed it over).
    pub pipeline: Option<RequestMeta>,
    /// The request's task running again.
    pub resumed: u64,
    /// Post-processing done.
    pub postprocessed: u64,
    /// Response body built.
    pub encoded: u64,
}

impl Timeline {
    /// Each stage's duration in ns, in order; a stage the request did not pass (no
    /// pre-processing) or whose stamps are missing is left out.
    pub fn stages(&self) -> Vec<(ServerStage, u64)> {
        let span = |a: u64, b: u64| (a != 0 && b >= a).then(|| b - a);
        let mut out = Vec::with_capacity(ServerStage::ALL.len());
        let mut push = |stage, d: Option<u64>| {
            if let Some(d) = d {
                out.push((stage, d))
            }
        };
        push(ServerStage::Receive, span(self.arrived, self.read));
        push(ServerStage::Decode, span(self.read, self.decoded));
        if self.preprocessed != 0 {
            push(
                ServerStage::Preprocess,
                span(self.decoded, self.preprocessed),
            );
        }
        let mut last = None;
        if let Some(meta) = &self.pipeline {
            for stage in Stage::ALL {
                push(ServerStage::Pipeline(stage), meta.stamps.stage_ns(stage));
            }
            last = Some(meta.stamps.get(Stamp::Received));
        }
        push(
            ServerStage::Resume,
            last.and_then(|r| span(r, self.resumed)),
        );
        push(
            ServerStage::Postprocess,
            span(self.resumed, self.postprocessed),
        );
        push(ServerStage::Encode, span(self.postprocessed, self.encoded));
        out
    }

    /// Headers read to response body built, ns.
    pub fn total_ns(&self) -> Option<u64> {
        (self.arrived != 0 && self.encoded >= self.arrived).then(|| self.encoded - self.arrived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Stamps;

    #[test]
    fn the_stages_add_up_to_the_time_on_the_server() {
        let mut stamps = Stamps::default();
        for (k, stamp) in Stamp::ALL.into_iter().enumerate() {
            stamps.set(stamp, 1_000 + 100 * k as u64 * k as u64);
        }
        let meta = RequestMeta {
            id: 1,
            samples: 1,
            batch_samples: 1,
            stamps,
        };
        let t = Timeline {
            arrived: 10,
            read: 50,
            decoded: 1_000,
            preprocessed: 0,
            pipeline: Some(meta),
            resumed: 6_000,
            postprocessed: 6_500,
            encoded: 7_000,
        };
        let stages = t.stages();
        assert_eq!(stages.len(), 11, "no pre-processing stage: {stages:?}");
        let sum: u64 = stages.iter().map(|(_, d)| d).sum();
        assert_eq!(Some(sum), t.total_ns());
    }
}
