//! What a worker calls ([`Forward`]) and the batch sizes its forwards see
//! ([`Batches`]): the two things every way of preparing a model (`prepare.rs`,
//! `file.rs`, `compile.rs`, CUDA graphs in `graphed.rs`) is written against.

use tch::Tensor;

use crate::error::Result;

/// One worker's callable model.
pub trait Forward: Send {
    /// Runs inference on a batch, one tensor `[n, ...]` per model input, and returns
    /// the response `[n, ...]` (`[n, classes]` for the built-in models).
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor>;
}

/// The batch sizes the forward will see: every request's samples, up to the most
/// one forward takes (above it: dynamic batching).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batches {
    /// Samples of every request: the batch traced, probed and exported with.
    pub example: u32,
    /// The most samples one forward takes.
    pub max: u32,
}

impl Batches {
    /// Every forward has `n` samples.
    pub fn fixed(n: u32) -> Self {
        Self { example: n, max: n }
    }
}
