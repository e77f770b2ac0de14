//! `--compile cuda-graph`: each worker's eager forward captured as CUDA graphs, one
//! per batch size it may see, and replayed.
//!
//! A graph replays on the memory it was captured with, so every captured size keeps
//! its own input and output tensors: a batch is copied into the input of the
//! smallest captured size that holds it (rows past the batch are padding, counted),
//! the graph replays on the worker's stream, and the answer's rows are copied out
//! (a device-to-device copy, so that the next replay cannot overwrite an answer a
//! copy-out stage has not read yet). Sizes are the powers of two below the most
//! samples one forward takes, and that most: a fixed batch pads nothing.
//!
//! Capture happens when a worker's instance is made, before anything is timed;
//! the first instance's capture time is the run's compile time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tch::Tensor;

use super::forward::{Batches, Forward};
use crate::config::{InputSpec, ModelConfig};
use crate::error::{Error, Result};
use crate::results::GraphFacts;

/// Warm-up forwards before each capture: libtorch and cuDNN initialise lazily, and
/// nothing may initialise inside a capture (PyTorch's own examples use three).
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
const WARMUPS: u32 = 3;

/// What every worker's graphs are captured for, and what their replays counted.
#[derive(Debug)]
#[cfg_attr(not(feature = "cuda"), allow(dead_code))] // the inputs are made only to capture
pub(super) struct GraphPlan {
    ordinal: usize,
    sizes: Vec<i64>,
    specs: Vec<InputSpec>,
    channels_last: bool,
    stats: Arc<GraphStats>,
}

#[derive(Debug, Default)]
struct GraphStats {
    /// The first instance's capture of all its sizes.
    capture: OnceLock<Duration>,
    samples: AtomicU64,
    padded: AtomicU64,
}

impl GraphPlan {
    /// The plan for `cfg`'s forwards of `batches` on `device`; the CPU is refused
    /// (config validation says so first, with the flags to use instead).
    pub(super) fn new(cfg: &ModelConfig, batches: Batches, device: tch::Device) -> Result<Self> {
        let tch::Device::Cuda(ordinal) = device else {
            return Err(Error::config(
                "compile",
                "cuda-graph needs a CUDA device: there are no kernels to capture on the CPU",
            ));
        };
        Ok(Self {
            ordinal,
            sizes: capture_sizes(batches.max),
            specs: cfg.input_specs(),
            channels_last: cfg.channels_last,
            stats: Arc::default(),
        })
    }

    /// `inner` (a worker's eager instance) captured at every size.
    pub(super) fn capture(&self, inner: Box<dyn Forward>) -> Result<Box<dyn Forward>> {
        let started = Instant::now();
        let mut captured = Vec::with_capacity(self.sizes.len());
        for &size in &self.sizes {
            captured.push(self.capture_size(inner.as_ref(), size)?);
        }
        let _ = self.stats.capture.set(started.elapsed());
        Ok(Box::new(GraphedModel {
            captured,
            stats: Arc::clone(&self.stats),
            _inner: inner,
        }))
    }

    #[cfg(feature = "cuda")]
    fn capture_size(&self, inner: &dyn Forward, size: i64) -> Result<Captured> {
        let device = tch::Device::Cuda(self.ordinal);
        let inputs = self
            .specs
            .iter()
            .map(|spec| {
                let zeros =
                    Tensor::f_zeros(spec.batched(size as u32), (spec.dtype.kind(), device))?;
                match self.channels_last && zeros.dim() == 4 {
                    true => super::jit::to_channels_last(&zeros),
                    false => Ok(zeros),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let (graph, output) =
            crate::device::graph::CudaGraph::capture(self.ordinal, WARMUPS, || {
                inner.forward(&inputs)
            })
            .map_err(|e| Error::Pipeline(format!("capturing the forward at batch {size}: {e}")))?;
        Ok(Captured {
            size,
            inputs,
            output,
            graph,
        })
    }

    #[cfg(not(feature = "cuda"))]
    fn capture_size(&self, _inner: &dyn Forward, _size: i64) -> Result<Captured> {
        Err(Error::config(
            "compile",
            format!(
                "cuda-graph on cuda:{}: this binary was built without CUDA support; build with --features cuda",
                self.ordinal
            ),
        ))
    }

    /// What the report says: sizes, capture time, padding so far.
    pub(super) fn facts(&self) -> GraphFacts {
        let samples = self.stats.samples.load(Ordering::Relaxed);
        let padded = self.stats.padded.load(Ordering::Relaxed);
        GraphFacts {
            sizes: self.sizes.iter().map(|&s| s as u32).collect(),
            capture_s: self.stats.capture.get().map(Duration::as_secs_f64),
            samples,
            padded_samples: padded,
            padding_share: (samples + padded > 0)
                .then(|| padded as f64 / (samples + padded) as f64),
        }
    }

    /// The first worker's capture time (the run's compile time); `None` before.
    pub(super) fn capture_time(&self) -> Option<Duration> {
        self.stats.capture.get().copied()
    }
}

/// Powers of two below `max`, then `max`: a dynamic batch pads to at most twice its
/// samples, and a fixed batch of `max` pads nothing.
fn capture_sizes(max: u32) -> Vec<i64> {
    let max = i64::from(max.max(1));
    let mut sizes: Vec<i64> = std::iter::successors(Some(1i64), |s| Some(s * 2))
        .take_while(|&s| s < max)
        .collect();
    sizes.push(max);
    sizes
}

/// One captured size: its graph and the memory the graph reads and writes.
struct Captured {
    size: i64,
    inputs: Vec<Tensor>,
    output: Tensor,
    #[cfg(feature = "cuda")]
    graph: crate::device::graph::CudaGraph,
}

impl Captured {
    #[cfg(feature = "cuda")]
    fn replay(&self) -> Result<()> {
        self.graph.replay()
    }

    #[cfg(not(feature = "cuda"))]
    fn replay(&self) -> Result<()> {
        Err(Error::Pipeline(
            "no CUDA graphs without --features cuda".into(),
        ))
    }
}

struct GraphedModel {
    /// Ascending sizes.
    captured: Vec<Captured>,
    stats: Arc<GraphStats>,
    /// The captured model: its weights are what the graphs read.
    _inner: Box<dyn Forward>,
}

impl Forward for GraphedModel {
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        let rows = inputs.first().map_or(0, |t| t.size()[0]);
        let graph = self
            .captured
            .iter()
            .find(|c| c.size >= rows)
            .ok_or_else(|| {
                Error::Pipeline(format!(
                    "a batch of {rows} samples is larger than the largest captured CUDA graph ({})",
                    self.captured.last().map_or(0, |c| c.size)
                ))
            })?;
        for (slot, input) in graph.inputs.iter().zip(inputs) {
            slot.f_narrow(0, 0, rows)?.f_copy_(input)?;
        }
        graph.replay()?;
        let out = graph.output.f_narrow(0, 0, rows)?;
        let mut answer = out.f_empty_like()?;
        answer.f_copy_(&out)?;
        self.stats.samples.fetch_add(rows as u64, Ordering::Relaxed);
        self.stats
            .padded
            .fetch_add((graph.size - rows) as u64, Ordering::Relaxed);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_up_to_the_largest_batch() {
        assert_eq!(capture_sizes(1), vec![1]);
        assert_eq!(capture_sizes(8), vec![1, 2, 4, 8]);
        assert_eq!(capture_sizes(24), vec![1, 2, 4, 8, 16, 24]);
        assert_eq!(capture_sizes(0), vec![1]);
    }

    #[test]
    fn the_cpu_is_refused_by_name() {
        let err = GraphPlan::new(&ModelConfig::default(), Batches::fixed(1), tch::Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cuda-graph needs a CUDA device"), "{err}");
    }
}
