//! Turning a model config into something workers can call: load the weights once
//! (timed), compile once (timed), then hand each worker its own instance.
//!
//! Why per-worker instances: tch's eager `FuncT` is `Send` but not `Sync`, so each
//! eager worker gets its own `VarStore` copied from the loaded one. A traced
//! `CModule` is `Sync`, so TorchScript workers share one module, as the seed's
//! threads share one `nn.Module`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tch::nn::{FuncT, VarStore};
use tch::{CModule, Kind, Tensor};

use super::checkpoint;
use super::fault::{FaultPlan, FaultSpec};
use super::spin::SpinModel;
use super::zoo::{infer, Architecture};
use crate::config::{CompileMode, ModelConfig};
use crate::error::{Error, Result};
use crate::results::ModelInfo;

/// One worker's callable model.
pub trait Forward: Send {
    /// Runs inference on a batch `[n, 3, h, w]` and returns `[n, classes]`.
    fn forward(&self, input: &Tensor) -> Result<Tensor>;
}

enum Prepared {
    Eager {
        master: VarStore,
        arch: Architecture,
    },
    Torchscript(Arc<CModule>),
    Spin(SpinModel),
}

/// A loaded (and possibly compiled) model, ready to hand out worker instances.
pub struct PreparedModel {
    /// Description for reports.
    pub info: ModelInfo,
    /// Time to load (or generate) the weights; `None` for a model without weights.
    pub load_time: Option<Duration>,
    /// Time to trace the model; `None` in eager mode.
    pub compile_time: Option<Duration>,
    prepared: Prepared,
    fault: Option<FaultPlan>,
}

struct EagerModel {
    _vs: VarStore,
    net: FuncT<'static>,
}

impl Forward for EagerModel {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        // tch's nn modules call libtorch through its panicking wrappers (there is no
        // fallible `forward_t`): a failure there (an allocation, a shape) becomes an
        // error here instead of unwinding through the worker.
        catch_unwind(AssertUnwindSafe(|| infer(&self.net, input))).map_err(|panic| {
            let message = crate::error::panic_message(panic.as_ref());
            Error::Pipeline(format!(
                "the forward failed: {}",
                crate::error::without_cpp_frames(message)
            ))
        })
    }
}

struct TracedModel(Arc<CModule>);

impl Forward for TracedModel {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        Ok(self.0.forward_ts(&[input])?)
    }
}

impl PreparedModel {
    /// A fresh instance for one pipeline worker (with the fault of a `fail:` model).
    pub fn instance(&self) -> Result<Box<dyn Forward>> {
        let inner = self.bare_instance()?;
        Ok(match &self.fault {
            Some(plan) => plan.wrap(inner),
            None => inner,
        })
    }

    /// A fresh instance without an injected fault, for the bare-forward loop.
    pub fn bare_instance(&self) -> Result<Box<dyn Forward>> {
        Ok(match &self.prepared {
            Prepared::Eager { master, arch } => Box::new(eager_copy(master, *arch)?),
            Prepared::Torchscript(module) => Box::new(TracedModel(Arc::clone(module))),
            Prepared::Spin(spin) => Box::new(*spin),
        })
    }
}

fn eager_copy(master: &VarStore, arch: Architecture) -> Result<EagerModel> {
    let mut vs = VarStore::new(master.device());
    let net = arch
        .build(&vs.root())
        .expect("eager models have weights; this is a bug");
    vs.copy(master)?;
    vs.freeze();
    Ok(EagerModel { _vs: vs, net })
}

/// Resolves the architecture from the config: a checkpoint's metadata wins over the name.
fn resolve_arch(cfg: &ModelConfig) -> Result<(Architecture, Option<std::path::PathBuf>)> {
    match &cfg.dir {
        Some(dir) => Ok((checkpoint::read_meta(dir)?.arch, Some(dir.clone()))),
        None => Ok((Architecture::parse(&cfg.name)?, None)),
    }
}

/// Loads and compiles the model described by `cfg`. `example_batch` is the batch
/// size traced with; `seed` draws generated weights.
pub fn prepare(cfg: &ModelConfig, example_batch: u32, seed: u64) -> Result<PreparedModel> {
    let Some(fault) = FaultSpec::parse(&cfg.name)? else {
        return prepare_plain(cfg, example_batch, seed);
    };
    let inner = ModelConfig {
        name: fault.inner.clone(),
        ..cfg.clone()
    };
    let mut model = prepare_plain(&inner, example_batch, seed)?;
    model.info.arch = fault.name();
    model.fault = Some(FaultPlan::new(fault));
    Ok(model)
}

fn prepare_plain(cfg: &ModelConfig, example_batch: u32, seed: u64) -> Result<PreparedModel> {
    let (arch, dir) = resolve_arch(cfg)?;
    let mut info = ModelInfo {
        arch: arch.name(),
        weights: "no".into(),
        parameters: 0,
        image_size: cfg.image_size,
        num_classes: arch.num_classes(),
    };
    if let Some(per_batch) = arch.spin_time() {
        if cfg.compile != CompileMode::Eager {
            return Err(Error::config(
                "compile",
                "the spin model has no graph to trace; use --compile eager",
            ));
        }
        let spin = SpinModel {
            per_batch,
            classes: arch.num_classes(),
        };
        return Ok(PreparedModel {
            info,
            load_time: None,
            compile_time: None,
            prepared: Prepared::Spin(spin),
            fault: None,
        });
    }

    let started = Instant::now();
    let _guard = tch::no_grad_guard();
    tch::manual_seed(seed as i64);
    let mut master = VarStore::new(tch::Device::Cpu);
    let net = arch
        .build(&master.root())
        .expect("checked has_weights; this is a bug");
    if let Some(dir) = &dir {
        checkpoint::load_weights(&mut master, dir)?;
    }
    master.freeze(); // inference only; tracing also refuses weights that require grad
    let load_time = started.elapsed();
    info.weights = if dir.is_some() {
        "checkpoint"
    } else {
        "generated"
    }
    .into();
    info.parameters = master
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as u64)
        .sum();

    let (prepared, compile_time) = match cfg.compile {
        CompileMode::Eager => (Prepared::Eager { master, arch }, None),
        CompileMode::Torchscript => {
            let started = Instant::now();
            let module = trace(&net, example_batch, cfg.image_size)?;
            (
                Prepared::Torchscript(Arc::new(module)),
                Some(started.elapsed()),
            )
        }
    };
    Ok(PreparedModel {
        info,
        load_time: Some(load_time),
        compile_time,
        prepared,
        fault: None,
    })
}

fn trace(net: &FuncT<'static>, batch: u32, image: u32) -> Result<CModule> {
    let example = Tensor::f_zeros(
        [batch as i64, 3, image as i64, image as i64],
        (Kind::Float, tch::Device::Cpu),
    )?;
    // Eager tch calls panic on libtorch errors; report them as errors with their first line.
    let traced = catch_unwind(AssertUnwindSafe(|| {
        CModule::create_by_tracing("inferbench", "forward", &[example], &mut |xs| {
            vec![infer(net, &xs[0])]
        })
    }))
    .map_err(|panic| {
        Error::Pipeline(format!(
            "tracing failed: {}",
            crate::error::panic_message(panic.as_ref())
                .lines()
                .next()
                .unwrap_or_default()
        ))
    })?;
    let mut module = traced?;
    module.set_eval();
    Ok(module)
}
