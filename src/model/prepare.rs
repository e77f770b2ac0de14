//! Turning a model config into something workers can call ([`prepare`]): load the
//! weights once (timed), compile once (timed), and give back the
//! [`PreparedModel`](super::prepared::PreparedModel) that hands each worker its own
//! instance. Model files are prepared in [`super::file`].

use std::time::Instant;

use tch::nn::VarStore;

use super::checkpoint;
use super::fault::{FaultPlan, FaultSpec};
use super::forward::Batches;
use super::prepared::{cast, weights_channels_last, Prepared, PreparedModel};
use super::spin::SpinModel;
use super::trace::check_precision;
use super::zoo::Architecture;
use crate::config::{CompileMode, ModelConfig};
use crate::error::{Error, Result};
use crate::results::ModelInfo;

/// Resolves the architecture from the config: a checkpoint's metadata wins over the name.
fn resolve_arch(cfg: &ModelConfig) -> Result<(Architecture, Option<std::path::PathBuf>)> {
    match &cfg.dir {
        Some(dir) => Ok((checkpoint::read_meta(dir)?.arch, Some(dir.clone()))),
        None => Ok((Architecture::parse(&cfg.name)?, None)),
    }
}

/// Loads and compiles the model described by `cfg` onto `device`, in the config's
/// precision, for forwards of `batches`; `seed` draws generated weights; `progress`
/// hears of a long compile. A precision the device's libtorch cannot run is refused
/// here, by trying it once, with an error that says so (never a silent fp32). A
/// `fail:` model is the inner model with a fault plan attached.
pub fn prepare(
    cfg: &ModelConfig,
    batches: Batches,
    seed: u64,
    device: tch::Device,
    progress: &mut dyn FnMut(&str),
) -> Result<PreparedModel> {
    let Some(fault) = FaultSpec::parse(&cfg.name)? else {
        return prepare_plain(cfg, batches, seed, device, progress);
    };
    let inner = ModelConfig {
        name: fault.inner.clone(),
        ..cfg.clone()
    };
    let mut model = prepare_plain(&inner, batches, seed, device, progress)?;
    model.info.arch = fault.name();
    model.fault = Some(FaultPlan::new(fault));
    Ok(model)
}

fn prepare_plain(
    cfg: &ModelConfig,
    batches: Batches,
    seed: u64,
    device: tch::Device,
    progress: &mut dyn FnMut(&str),
) -> Result<PreparedModel> {
    if cfg.is_file() {
        return super::file::prepare_file(cfg, batches, seed, device);
    }
    let (arch, dir) = resolve_arch(cfg)?;
    let mut info = ModelInfo {
        arch: arch.name(),
        weights: "no".into(),
        parameters: Some(0),
        image_size: cfg.image_size,
        num_classes: arch.num_classes(),
        inputs: Vec::new(),
        output: None,
        compile_cache: None,
        cuda_graph: None,
    };
    if let Some((per_batch, per_sample, drift_per_s)) = arch.spin_time() {
        if cfg.compile != CompileMode::Eager {
            return Err(Error::config(
                "compile",
                "the spin model has no graph to trace; use --compile eager",
            ));
        }
        let spin = SpinModel {
            per_batch,
            per_sample,
            drift_per_s,
            built: std::time::Instant::now(),
            classes: arch.num_classes(),
        };
        return Ok(PreparedModel {
            info,
            load_time: None,
            compile_time: None,
            prepared: Prepared::Spin(spin),
            fault: None,
            channels_last: false,
        });
    }

    if arch == Architecture::TinyTransformer {
        super::transformer::check_input(&cfg.input_specs())?;
        info.inputs = cfg.input_specs().iter().map(ToString::to_string).collect();
    }
    let started = Instant::now();
    let _guard = tch::no_grad_guard();
    let mut master = VarStore::new(tch::Device::Cpu);
    let net = super::seeded(seed, || arch.build(&master.root()))
        .expect("checked has_weights; this is a bug");
    if let Some(dir) = &dir {
        checkpoint::load_weights(&mut master, dir)?;
    }
    master.freeze(); // inference only; tracing also refuses weights that require grad
    cast(&mut master, cfg.precision);
    master.set_device(device);
    if cfg.channels_last {
        weights_channels_last(&master)?;
    }
    let load_time = started.elapsed();
    info.weights = if dir.is_some() {
        "checkpoint"
    } else {
        "generated"
    }
    .into();
    info.parameters = Some(
        master
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as u64)
            .sum(),
    );

    check_precision(&net, cfg, device)?;
    let built = super::compile::Built {
        arch,
        net: &net,
        master,
    };
    let (prepared, compile_time) =
        super::compile::compile(cfg, built, batches, device, &mut info, progress)?;
    Ok(PreparedModel {
        info,
        load_time: Some(load_time),
        compile_time,
        prepared,
        fault: None,
        channels_last: cfg.channels_last,
    })
}

#[cfg(test)]
#[path = "prepare_tests.rs"]
mod tests;
