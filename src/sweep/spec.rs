//! What a sweep runs: a grid over batch size × compile × workers × streams × arrival ×
//! batching, from a preset or a TOML file, expanded into run configurations that are
//! all validated before the first one starts (a typo in the last entry should not
//! cost the hour the others took).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::criterion_settings::CriterionSettings;
use super::stable::UntilStable;
use crate::config::target::TargetConfig;
use crate::config::{
    Arrival, BatchPolicy, CompileMode, DeviceSpec, InputSpec, ModelConfig, ModelKind, Precision,
    Quantize, RunConfig, StreamLayout,
};
use crate::error::{Error, Result};

/// A sweep: one model, the axes to cross, and how much to measure each point.
///
/// In TOML every field is optional; missing ones take the defaults below.
///
/// ```toml
/// name = "mine"
/// model = "resnet18"          # or tiny-cnn, spin:2ms, torchscript:PATH
/// image_size = 64
/// iters = 200                 # measured requests per run
/// repeats = 3                 # runs per configuration (mean ± std)
/// batch_sizes = [1, 8, 32]
/// compile = ["eager", "torchscript"]  # also frozen; a model file: torchscript, frozen
/// inputs = ["128:i64:0..30522"]  # a model file's inputs (torchscript:PATH), as --input
/// intra_op_threads = [1, 2]   # one value or a list (an axis)
/// channels_last = [false, true]  # memory format of image models (an axis)
/// quantize = ["none", "dynamic-int8"]  # tiny-transformer's weights (an axis)
/// workers = [1, 2]
/// streams = ["shared", "dedicated"]
/// arrivals = ["burst"]        # as --arrival: burst, concurrency:N, poisson:RATE
/// max_batch_size = [0, 8]     # dynamic batching; 0 = off
/// batch_timeout = "5ms"
///
/// [criterion]                 # read by `cargo bench` only (see CriterionSettings)
/// samples = 10
/// requests_per_sample = 16
/// devices = ["cpu"]           # or cuda, cuda:N
/// precisions = ["fp32"]       # fp32, fp16, bf16
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepSpec {
    /// Name written into every record. Default: the preset's or the file's stem.
    pub name: String,
    /// Model name, as `--model`. Default `resnet18`.
    pub model: String,
    /// Input side, px. Default 32.
    pub image_size: u32,
    /// Measured requests per run. Default 200 (`seed`: 100, the seed's `num_iters`).
    pub iters: u32,
    /// Runs per configuration. Default 3.
    pub repeats: u32,
    /// Warm-up requests after the cold-start one. Default: 2 per worker.
    pub warmup: Option<u32>,
    /// Intra-op threads per worker: one value or a list, an axis. Default (empty):
    /// cores / workers.
    #[serde(deserialize_with = "one_or_many")]
    pub intra_op_threads: Vec<u32>,
    /// The model's inputs per sample, as `--input` (model files and spin models).
    /// Default: one image of `image_size`.
    pub inputs: Vec<InputSpec>,
    /// Samples per request. Default [1, 4, 16].
    pub batch_sizes: Vec<u32>,
    /// Compile modes. Default eager and torchscript; a model file: as saved; the
    /// spin model: eager.
    pub compile: Vec<CompileMode>,
    /// Worker counts. Default [1, 2].
    pub workers: Vec<u32>,
    /// Stream layouts. Default [shared].
    pub streams: Vec<StreamLayout>,
    /// Arrival processes, as `--arrival`. Default [concurrency:2] (`seed`: burst).
    pub arrivals: Vec<String>,
    /// Dynamic batching limits in samples; 0 turns batching off. Default [0].
    pub max_batch_size: Vec<u32>,
    /// Dynamic batching timeout. Default 5ms.
    pub batch_timeout: String,
    /// Also time the bare forward for pipeline efficiency (doubles the time). Default false.
    pub bare: bool,
    /// Seed for inputs and weights. Default 0.
    pub seed: u64,
    /// How `cargo bench` measures each configuration; `inferbench sweep` ignores it.
    pub criterion: CriterionSettings,
    /// Devices, as `--device`. Default [cpu].
    pub devices: Vec<DeviceSpec>,
    /// Precisions, as `--precision`. Default [fp32].
    pub precisions: Vec<Precision>,
    /// Channels-last memory format off and/or on (built-in image models). Default [false].
    pub channels_last: Vec<bool>,
    /// Weight quantization: none and/or dynamic-int8 (tiny-transformer). Default [none].
    pub quantize: Vec<Quantize>,
    /// A server over the network to measure instead of the in-process pipeline (a
    /// `[target]` table, or `sweep --target URL`); the load axes then apply
    /// (batch sizes, arrivals) and the server's own stay at their defaults.
    /// Default none.
    pub target: Option<TargetConfig>,
    /// Measure each run until stable (an `[until_stable]` table, or
    /// `--until-stable`); `iters` is then the window. Default none: one window of
    /// `iters` requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_stable: Option<UntilStable>,
}

impl Default for SweepSpec {
    fn default() -> Self {
        Self::quick()
    }
}

impl SweepSpec {
    /// `quick`: ResNet-18 at 32 px, bs 1/4/16 × both compile modes × 1-2 workers,
    /// shared streams, 200 requests × 3 repeats, closed loop with 2 requests in
    /// flight: a loaded server whose latency means something, where a burst's latency
    /// is mostly the time to drain the burst. About a minute on 2 cores.
    pub fn quick() -> Self {
        Self {
            name: "quick".into(),
            model: "resnet18".into(),
            image_size: 32,
            iters: 200,
            repeats: 3,
            warmup: None,
            intra_op_threads: Vec::new(),
            inputs: Vec::new(),
            batch_sizes: vec![1, 4, 16],
            compile: vec![CompileMode::Eager, CompileMode::Torchscript],
            workers: vec![1, 2],
            streams: vec![StreamLayout::Shared],
            arrivals: vec!["concurrency:2".into()],
            max_batch_size: vec![0],
            batch_timeout: "5ms".into(),
            bare: false,
            seed: 0,
            criterion: CriterionSettings::default(),
            devices: vec![DeviceSpec::Cpu],
            precisions: vec![Precision::Fp32],
            channels_last: vec![false],
            quantize: vec![Quantize::None],
            target: None,
            until_stable: None,
        }
    }

    /// `seed`: the grid of the seed's runner.sh: ResNet-18 at 224 px, bs 1, 32, 64,
    /// 128, 256 × compile on and off, one worker, 100 requests sent as a burst (the
    /// seed's semantics) × 3 repeats. Sized for a GPU; on a 2-core CPU it takes hours.
    pub fn seed() -> Self {
        Self {
            name: "seed".into(),
            image_size: 224,
            iters: 100,
            arrivals: vec!["burst".into()],
            batch_sizes: vec![1, 32, 64, 128, 256],
            workers: vec![1],
            ..Self::quick()
        }
    }

    /// A preset by name.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "quick" => Ok(Self::quick()),
            "seed" => Ok(Self::seed()),
            other => Err(Error::config(
                "preset",
                format!(
                    "'{other}' is not a preset; expected quick or seed (or --config FILE.toml)"
                ),
            )),
        }
    }

    /// Reads a TOML sweep file; its name defaults to the file's stem.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io("cannot read sweep file", path, e))?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        Self::from_toml(&text, &path.display().to_string(), stem.as_deref())
    }

    /// Parses sweep TOML (a file's text, or a preset built into the binary);
    /// `origin` names it in errors and `default_name` names the sweep when the
    /// text does not.
    pub fn from_toml(text: &str, origin: &str, default_name: Option<&str>) -> Result<Self> {
        let bad = |e: toml::de::Error| {
            Error::config("config", format!("{origin} is not a valid sweep file: {e}"))
        };
        let mut spec: Self = toml::from_str(text).map_err(bad)?;
        let table: toml::Table = toml::from_str(text).map_err(bad)?;
        if !table.contains_key("compile") {
            // A built-in model crosses eager and a trace; a file is already compiled
            // (the file as saved) and the spin model has only eager.
            let model = ModelConfig {
                name: spec.model.clone(),
                ..ModelConfig::default()
            };
            spec.compile = match model.kind() {
                ModelKind::ImageCnn | ModelKind::Text => Self::quick().compile,
                kind => vec![kind.compiles()[0]],
            };
        }
        if let Some(target) = spec.target.clone() {
            spec.aim_at(target, Some(&table));
        }
        if spec.name == Self::quick().name {
            if let Some(name) = default_name {
                spec.name = name.to_string();
            }
        }
        spec.check_given(&table)?;
        Ok(spec)
    }

    /// What only the file's own fields can show: an axis written out empty (left
    /// out, `intra_op_threads` takes the default; written `[]` it would silently be
    /// the default too), and an image size for a model that reads no image.
    fn check_given(&self, table: &toml::Table) -> Result<()> {
        if table.contains_key("intra_op_threads") && self.intra_op_threads.is_empty() {
            return Err(Error::config(
                "intra_op_threads",
                "is empty; give at least one value (or leave it out for the default, cores / workers)",
            ));
        }
        if table.contains_key("image_size") {
            let model = ModelConfig {
                name: self.model.clone(),
                image_size: self.image_size,
                inputs: self.inputs.clone(),
                ..ModelConfig::default()
            };
            model.check_image_size_given()?;
        }
        Ok(())
    }

    /// Every configuration of the grid, validated, in a fixed order (batch size
    /// outermost, so a report reads down by batch size).
    pub fn expand(&self) -> Result<Vec<RunConfig>> {
        self.check_axes()?;
        let arrivals = self
            .arrivals
            .iter()
            .map(|a| Arrival::parse(a))
            .collect::<Result<Vec<_>>>()?;
        let policies = self
            .max_batch_size
            .iter()
            .map(|&m| self.policy(m))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for &batch in &self.batch_sizes {
            for &compile in &self.compile {
                for &workers in &self.workers {
                    for &streams in &self.streams {
                        for &arrival in &arrivals {
                            for &batching in &policies {
                                for threads in self.thread_counts() {
                                    let mut cfg = self
                                        .point(batch, compile, workers, streams, arrival, batching);
                                    cfg.backend.intra_op_threads = threads;
                                    out.extend(self.placements(&cfg));
                                }
                            }
                        }
                    }
                }
            }
        }
        out.iter().try_for_each(RunConfig::validate)?;
        Ok(out)
    }

    /// `cfg` on every device × precision × memory format of the sweep (innermost axes).
    fn placements<'a>(&'a self, cfg: &'a RunConfig) -> impl Iterator<Item = RunConfig> + 'a {
        self.devices.iter().flat_map(move |&device| {
            self.precisions.iter().flat_map(move |&precision| {
                self.channels_last.iter().flat_map(move |&channels_last| {
                    self.quantize.iter().map(move |&quantize| {
                        let mut c = cfg.clone();
                        c.backend.device = device;
                        c.model.precision = precision;
                        c.model.channels_last = channels_last;
                        c.model.quantize = quantize;
                        c
                    })
                })
            })
        })
    }

    fn check_axes(&self) -> Result<()> {
        let empty = [
            ("batch_sizes", self.batch_sizes.is_empty()),
            ("compile", self.compile.is_empty()),
            ("workers", self.workers.is_empty()),
            ("streams", self.streams.is_empty()),
            ("arrivals", self.arrivals.is_empty()),
            ("max_batch_size", self.max_batch_size.is_empty()),
            ("devices", self.devices.is_empty()),
            ("precisions", self.precisions.is_empty()),
            ("channels_last", self.channels_last.is_empty()),
            ("quantize", self.quantize.is_empty()),
        ];
        if let Some((axis, _)) = empty.iter().find(|(_, e)| *e) {
            return Err(Error::config(
                axis,
                "is empty; give at least one value (or leave it out for the default)",
            ));
        }
        if self.repeats == 0 {
            return Err(Error::config("repeats", "0; expected at least 1"));
        }
        Ok(())
    }

    /// The intra-op thread counts to cross: each given one, or the default.
    fn thread_counts(&self) -> Vec<Option<u32>> {
        match self.intra_op_threads.as_slice() {
            [] => vec![None],
            counts => counts.iter().map(|&t| Some(t)).collect(),
        }
    }

    fn policy(&self, max_batch_size: u32) -> Result<BatchPolicy> {
        BatchPolicy::from_limits(Some(max_batch_size), &self.batch_timeout)
    }

    fn point(
        &self,
        batch: u32,
        compile: CompileMode,
        workers: u32,
        streams: StreamLayout,
        arrival: Arrival,
        batching: BatchPolicy,
    ) -> RunConfig {
        let mut cfg = RunConfig::default();
        cfg.model.name = self.model.clone();
        cfg.model.image_size = self.image_size;
        cfg.model.compile = compile;
        cfg.model.inputs = self.inputs.clone();
        cfg.load.batch_size = batch;
        cfg.load.num_iters = self.iters;
        cfg.load.extra_warmup = self.warmup;
        cfg.load.arrival = arrival;
        cfg.load.seed = self.seed;
        cfg.backend.workers = workers;
        cfg.backend.streams = streams;
        cfg.backend.batching = batching;
        cfg.measure_bare_forward = self.bare;
        if let Some(target) = &self.target {
            cfg.model.name = target.url.model.clone();
            cfg.target = Some(target.clone());
        }
        cfg
    }

    /// Points the sweep at `target`: the server's own axes collapse to their
    /// defaults unless the file gave them (without the file's table: unless they
    /// differ from the preset's); validation then names an axis that was given.
    pub fn aim_at(&mut self, target: TargetConfig, table: Option<&toml::Table>) {
        let preset = Self::quick();
        let given = |key: &str, differs: bool| match table {
            Some(t) => t.contains_key(key),
            None => differs,
        };
        if !given("compile", self.compile != preset.compile) {
            self.compile = vec![CompileMode::Eager];
        }
        if !given("workers", self.workers != preset.workers) {
            self.workers = vec![1];
        }
        self.model = target.url.model.clone();
        self.target = Some(target);
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;

/// A number or a list of numbers, as a list (`intra_op_threads = 2` or `[1, 2]`).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u32),
        Many(Vec<u32>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(n) => vec![n],
        OneOrMany::Many(v) => v,
    })
}
