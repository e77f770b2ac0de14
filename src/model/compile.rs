//! The compile step of a built-in model: eager as built, a TorchScript trace, the
//! trace frozen, an AOTInductor package, or (`--quantize dynamic-int8`) a dynamically
//! quantized TorchScript module made by the Python of the linked torch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tch::nn::{FuncT, VarStore};

use super::aoti::AotiModule;
use super::aoti_export::{self, ExportShape};
use super::forward::Batches;
use super::jit::FrozenModule;
use super::prepared::Prepared;
use super::script::ScriptModule;
use super::trace::{example_input, trace};
use super::zoo::Architecture;
use crate::config::{CompileMode, ModelConfig, Precision, Quantize};
use crate::error::{Error, Result};
use crate::results::ModelInfo;

/// A built-in model as built: its architecture, network and loaded weights.
pub(super) struct Built<'a> {
    pub arch: Architecture,
    pub net: &'a FuncT<'static>,
    pub master: VarStore,
}

/// `built` prepared in `cfg`'s compile mode; how long the compile took (`None` when
/// nothing was compiled). A package's origin goes into `info`.
pub(super) fn compile(
    cfg: &ModelConfig,
    built: Built<'_>,
    batches: Batches,
    device: tch::Device,
    info: &mut ModelInfo,
    progress: &mut dyn FnMut(&str),
) -> Result<(Prepared, Option<Duration>)> {
    if cfg.quantize != Quantize::None {
        return quantized(cfg, &built, batches, device, info, progress);
    }
    let Built { arch, net, master } = built;
    Ok(match cfg.compile {
        CompileMode::Eager => (
            Prepared::Eager {
                master,
                arch,
                precision: cfg.precision,
            },
            None,
        ),
        CompileMode::Torchscript | CompileMode::Frozen => {
            let started = Instant::now();
            let example = example_input(batches.example, cfg, device)?;
            let example = match cfg.channels_last {
                true => super::jit::to_channels_last(&example)?,
                false => example,
            };
            let module = trace(net, example)?;
            let prepared = match cfg.compile {
                CompileMode::Frozen => {
                    Prepared::Frozen(Arc::new(FrozenModule::freeze(&module, device)?))
                }
                _ => Prepared::Script(Arc::new(ScriptModule::new(module))),
            };
            (prepared, Some(started.elapsed()))
        }
        CompileMode::AotInductor => {
            let started = Instant::now();
            let shape = export_shape(cfg, batches, device);
            let loads = |path: &std::path::Path| AotiModule::load(path, device).map(drop);
            let package = aoti_export::package_for(arch, &master, shape, &loads, progress)?;
            info.compile_cache = Some(package.origin());
            let prepared = Prepared::Aoti {
                path: package.path,
                device,
            };
            (prepared, Some(started.elapsed()))
        }
        CompileMode::CudaGraph => (
            Prepared::Graphed {
                master,
                arch,
                precision: cfg.precision,
                plan: super::graphed::GraphPlan::new(cfg, batches, device)?,
            },
            None, // captured per worker instance: see PreparedModel::compile_time_s
        ),
    })
}

/// What a Python export is made for: the run's input, batches, precision, device
/// and memory format.
fn export_shape(cfg: &ModelConfig, batches: Batches, device: tch::Device) -> ExportShape {
    ExportShape {
        input: cfg.input_specs().remove(0),
        batch: batches.example,
        max_batch: batches.max,
        precision: cfg.precision,
        device,
        channels_last: cfg.channels_last,
    }
}

/// `--quantize dynamic-int8`: the model's linear layers quantized to int8 weights
/// with activations quantized on the fly (`torch.ao.quantization.quantize_dynamic`,
/// a Python-only API), traced by the Python of the linked torch into a TorchScript
/// file (cached like an AOTInductor package), then run as saved or frozen.
fn quantized(
    cfg: &ModelConfig,
    built: &Built<'_>,
    batches: Batches,
    device: tch::Device,
    info: &mut ModelInfo,
    progress: &mut dyn FnMut(&str),
) -> Result<(Prepared, Option<Duration>)> {
    let started = Instant::now();
    let shape = export_shape(cfg, batches, device);
    let loads =
        |path: &std::path::Path| ScriptModule::load(path, device, Precision::Fp32).map(drop);
    let file = aoti_export::quantized_for(built.arch, &built.master, shape, &loads, progress)?;
    info.compile_cache = Some(file.origin());
    let script = ScriptModule::load(&file.path, device, Precision::Fp32)?;
    let prepared = match cfg.compile {
        CompileMode::Torchscript => Prepared::Script(Arc::new(script)),
        CompileMode::Frozen => {
            Prepared::Frozen(Arc::new(FrozenModule::freeze(script.module(), device)?))
        }
        other => {
            return Err(Error::config(
                "quantize",
                format!(
                    "dynamic-int8 runs as TorchScript, not {}: use --compile torchscript or frozen",
                    other.name()
                ),
            ))
        }
    };
    Ok((prepared, Some(started.elapsed())))
}
