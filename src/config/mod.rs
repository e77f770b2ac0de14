//! Run configuration: plain nested structs with documented units and defaults,
//! serde for sweep files and reports, and [`RunConfig::validate`] so that an
//! impossible configuration is refused before any thread starts.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod durations;
pub mod input_spec;
pub mod limits;
mod model;
mod model_kind;
mod placement;
mod policies;
mod record;
pub mod target;
pub use durations::{parse_duration, parse_duration_us};
pub use input_spec::{InputDtype, InputSpec, ValueRange};
pub use model::{CompileMode, ModelConfig, ModelFile, Quantize, TOKEN_MODELS};
pub use model_kind::ModelKind;
pub use placement::{DeviceSpec, Precision};
pub use policies::{parse_spin_wait, BatchPolicy};

/// Where the host-to-device and device-to-host copies run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StreamLayout {
    /// Copy-in, compute and copy-out inline in each worker, on the worker's stream.
    #[default]
    Shared,
    /// A copy-in stage and a copy-out stage, each its own thread (and stream on CUDA),
    /// so that copies can overlap compute (seed 001, PR 116189).
    Dedicated,
}

/// When the load generator sends requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "mode", content = "value")]
pub enum Arrival {
    /// All requests back to back at the start (the seed's semantics; rate = inf).
    #[default]
    Burst,
    /// Closed loop: at most this many requests in flight; a response frees a slot.
    Concurrency(u32),
    /// Open loop: Poisson arrivals at this many requests per second (seed 003).
    /// Latency counts from each request's intended send time.
    Poisson(f64),
}

/// What the load generator sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadConfig {
    /// Samples per request (the seed's `batch_size`). Default 1.
    pub batch_size: u32,
    /// Measured requests, after the warm-up. Default 100.
    pub num_iters: u32,
    /// Requests sent and awaited after the cold-start request and before measuring,
    /// so that every worker's first calls are out of the figures. Default 2 per worker.
    pub extra_warmup: Option<u32>,
    /// Arrival process. Default burst.
    pub arrival: Arrival,
    /// Seed for the request inputs and generated weights. Default 0.
    pub seed: u64,
}

/// How the server is laid out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendConfig {
    /// Compute threads, each with its own model instance and stream. Default 1.
    pub workers: u32,
    /// Copy stage layout. Default shared.
    pub streams: StreamLayout,
    /// libtorch intra-op threads per worker. Default: available cores / workers, at least 1.
    pub intra_op_threads: Option<u32>,
    /// How long, in µs, each stage and the client poll an empty queue before parking.
    /// Default 0: park at once (the pipeline's wait policy explains the trade-off).
    #[serde(default)]
    pub spin_wait_us: u64,
    /// How requests are grouped into forwards. Default none: each request its own forward.
    #[serde(default)]
    pub batching: BatchPolicy,
    /// Where weights, buffers and the forward live. Default the CPU.
    #[serde(default)]
    pub device: DeviceSpec,
}

/// One pipeline run. Records hold it as the `record` module writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "record::Record")]
pub struct RunConfig {
    /// The model.
    pub model: ModelConfig,
    /// The load.
    pub load: LoadConfig,
    /// The server.
    pub backend: BackendConfig,
    /// Also time a bare forward loop to report pipeline efficiency. Default true.
    pub measure_bare_forward: bool,
    /// A server measured over the network instead of the in-process pipeline; the
    /// model and server settings above are then the server's own and stay at their
    /// defaults. Default none.
    pub target: Option<target::TargetConfig>,
}

impl Arrival {
    /// As `--arrival` writes it (`burst`, `concurrency:N`, `poisson:RATE`): what
    /// [`Arrival::parse`] reads back, and the part of an id that names the load.
    pub fn flag(self) -> String {
        match self {
            Self::Burst => "burst".into(),
            Self::Concurrency(n) => format!("concurrency:{n}"),
            Self::Poisson(r) => format!("poisson:{r}"),
        }
    }

    /// Parses `burst`, `concurrency:N`, `poisson:RATE` or `poisson:inf` (= burst), as
    /// `--arrival` and sweep files write them.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: String| Error::config("arrival", why);
        match text.trim().split_once(':') {
            None if text.trim() == "burst" => Ok(Self::Burst),
            Some(("poisson", "inf")) => Ok(Self::Burst),
            Some(("poisson", rate)) => rate
                .parse()
                .map(Self::Poisson)
                .map_err(|_| bad(format!("'{text}': '{rate}' is not a rate in requests/s"))),
            Some(("concurrency", n)) => n
                .parse()
                .map(Self::Concurrency)
                .map_err(|_| bad(format!("'{text}': '{n}' is not a whole number"))),
            _ => Err(bad(format!(
                "'{text}': expected burst, concurrency:N (e.g. concurrency:4) or poisson:RATE (e.g. poisson:200)"
            ))),
        }
    }
}

impl StreamLayout {
    /// The name used in flags, benchmark ids and reports.
    pub fn name(self) -> &'static str {
        match self {
            StreamLayout::Shared => "shared",
            StreamLayout::Dedicated => "dedicated",
        }
    }
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            batch_size: 1,
            num_iters: 100,
            extra_warmup: None,
            arrival: Arrival::Burst,
            seed: 0,
        }
    }
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            streams: StreamLayout::Shared,
            intra_op_threads: None,
            spin_wait_us: 0,
            batching: BatchPolicy::None,
            device: DeviceSpec::Cpu,
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            load: LoadConfig::default(),
            backend: BackendConfig::default(),
            measure_bare_forward: true,
            target: None,
        }
    }
}

/// Largest accepted values: beyond them a run cannot fit in memory or time on any machine
/// this tool targets, and a typo (an extra zero) is the likelier explanation.
const MAX_BATCH: u32 = 4096;
const MAX_WORKERS: u32 = 256;
const MAX_IMAGE: u32 = 4096;
/// Smallest input the CNN models take: below it their convolutions and pooling have
/// nothing left to work on.
const MIN_CNN_IMAGE: u32 = 8;

impl RunConfig {
    /// Checks every field and combination; the error names the flag and the accepted range.
    pub fn validate(&self) -> Result<()> {
        let in_range = |field, v: u32, max: u32| {
            if v == 0 || v > max {
                Err(Error::config(
                    field,
                    format!("{v} is out of range; expected 1..={max}"),
                ))
            } else {
                Ok(())
            }
        };
        in_range("batch-size", self.load.batch_size, MAX_BATCH)?;
        in_range("workers", self.backend.workers, MAX_WORKERS)?;
        in_range("image-size", self.model.image_size, MAX_IMAGE)?;
        in_range("iters", self.load.num_iters, u32::MAX)?;
        if let Some(t) = self.backend.intra_op_threads {
            in_range("intra-op-threads", t, 1024)?;
        }
        match self.load.arrival {
            Arrival::Concurrency(n) => in_range("concurrency", n, u32::MAX)?,
            Arrival::Poisson(rate) if !(rate.is_finite() && rate > 0.0) => {
                return Err(Error::config(
                    "arrival",
                    format!("poisson rate {rate} is not a positive number of requests/s (poisson:inf is burst)"),
                ))
            }
            _ => {}
        }
        if let BatchPolicy::Dynamic {
            max_batch_samples: 0,
            ..
        } = self.backend.batching
        {
            return Err(Error::config("max-batch-size", "0; expected at least 1"));
        }
        if let Some(target) = &self.target {
            return self.validate_target(target);
        }
        self.model.validate_inputs(self.load.batch_size)?;
        if self.model.quantize != Quantize::None && self.backend.device != DeviceSpec::Cpu {
            return Err(Error::config(
                "quantize",
                format!(
                    "{}: dynamically quantized kernels run on the CPU only; use --device cpu",
                    self.model.quantize.name()
                ),
            ));
        }
        if self.model.compile == CompileMode::CudaGraph && self.backend.device == DeviceSpec::Cpu {
            return Err(Error::config(
                "compile",
                "cuda-graph captures a forward's CUDA kernels to replay them, and on the CPU there are none: use --device cuda (or cuda:N), or --compile eager, torchscript, frozen or aot-inductor",
            ));
        }
        if self.model.image_size < MIN_CNN_IMAGE && self.model.is_built_in_cnn() {
            return Err(Error::config(
                "image-size",
                format!(
                    "{} px is too small: the CNN models need at least {MIN_CNN_IMAGE} px (only spin models take any size)",
                    self.model.image_size
                ),
            ));
        }
        Ok(())
    }

    /// The configuration as a benchmark id: `resnet18-32px/bs4/torchscript/w2/dedicated`,
    /// with `/dyn8@5000us` when dynamic batching is on, `/t2` when the intra-op
    /// threads are set (not the default), the arrival when it is not a
    /// burst, and the precision and device when they are not fp32 on the CPU (so CPU
    /// fp32 ids, and the baselines saved under them, stay as they were). Criterion group
    /// names, sweep records and report lines all use it.
    pub fn id(&self) -> String {
        if let Some(t) = &self.target {
            return self.target_id(t);
        }
        let mut id = format!(
            "{}/bs{}/{}/w{}/{}",
            self.model.label(),
            self.load.batch_size,
            self.model.compile.name(),
            self.backend.workers,
            self.backend.streams.name()
        );
        if let BatchPolicy::Dynamic {
            max_batch_samples,
            timeout_us,
        } = self.backend.batching
        {
            id.push_str(&format!("/dyn{max_batch_samples}@{timeout_us}us"));
        }
        if let Some(threads) = self.backend.intra_op_threads {
            id.push_str(&format!("/t{threads}"));
        }
        if self.load.arrival != Arrival::Burst {
            id.push_str(&format!("/{}", self.load.arrival.flag()));
        }
        if self.model.precision != Precision::Fp32 {
            id.push_str(&format!("/{}", self.model.precision.name()));
        }
        if self.model.channels_last {
            id.push_str("/channels-last");
        }
        if self.model.quantize != Quantize::None {
            id.push_str(&format!("/{}", self.model.quantize.name()));
        }
        if self.backend.device != DeviceSpec::Cpu {
            id.push_str(&format!("/{}", self.backend.device));
        }
        id
    }

    /// Intra-op threads per worker after applying the default.
    pub fn intra_op_threads(&self) -> u32 {
        self.backend
            .intra_op_threads
            .unwrap_or_else(|| (cores() as u32 / self.backend.workers).max(1))
    }

    /// Warm-up requests after the cold-start one, after applying the default.
    pub fn extra_warmup(&self) -> u32 {
        self.load.extra_warmup.unwrap_or(2 * self.backend.workers)
    }
}

/// The CPUs this process may run on (1 where that cannot be read).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        RunConfig::default().validate().unwrap();
    }

    #[test]
    fn zero_batch_names_the_flag() {
        let mut c = RunConfig::default();
        c.load.batch_size = 0;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("batch-size") && err.contains("1..="), "{err}");
    }

    #[test]
    fn built_in_cnns_need_the_minimum_image_size_and_spin_models_do_not() {
        let mut c = RunConfig::default();
        c.model.image_size = 1;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("image-size") && err.contains("8 px"), "{err}");
        c.model.name = "fail:tiny-cnn@3".into();
        assert!(c.validate().is_err());
        c.model.name = "spin:1ms".into();
        c.validate().unwrap();
    }

    #[test]
    fn zero_workers_is_refused() {
        let mut c = RunConfig::default();
        c.backend.workers = 0;
        assert!(c.validate().unwrap_err().to_string().contains("workers"));
    }

    #[test]
    fn ids_name_the_configuration_and_only_the_non_default_extras() {
        let mut c = RunConfig::default();
        assert_eq!(c.id(), "resnet18-64px/bs1/eager/w1/shared");
        c.backend.batching = BatchPolicy::Dynamic {
            max_batch_samples: 8,
            timeout_us: 5000,
        };
        c.load.arrival = Arrival::Concurrency(2);
        assert_eq!(
            c.id(),
            "resnet18-64px/bs1/eager/w1/shared/dyn8@5000us/concurrency:2"
        );
        c.model.precision = Precision::Fp16;
        c.backend.device = DeviceSpec::Cuda(1);
        assert!(c.id().ends_with("/concurrency:2/fp16/cuda:1"), "{}", c.id());
    }
}
