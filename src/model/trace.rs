//! The built-in nets before serving: an example input, one forward in the run's
//! precision (kernels that lack the type fail here, before anything is timed), and
//! the TorchScript trace.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tch::nn::FuncT;
use tch::{CModule, Kind, Tensor};

use super::zoo::infer;
use crate::config::{ModelConfig, Precision};
use crate::error::{Error, Result};

/// Zeros shaped as `batch` samples of the model's (first) input: an image in the
/// run's precision, or token ids (id 0).
pub(super) fn example_input(batch: u32, cfg: &ModelConfig, device: tch::Device) -> Result<Tensor> {
    let spec = cfg
        .input_specs()
        .into_iter()
        .next()
        .ok_or_else(|| Error::config("input", "the model has no input"))?;
    Ok(Tensor::f_zeros(
        spec.batched(batch),
        (spec.dtype.kind(), device),
    )?)
}

/// One forward of a single sample in the configured precision: libtorch kernels that
/// lack a type fail here, before anything is timed, with the reason.
pub(super) fn check_precision(
    net: &FuncT<'static>,
    cfg: &ModelConfig,
    device: tch::Device,
) -> Result<()> {
    if cfg.precision == Precision::Fp32 {
        return Ok(());
    }
    let example = example_input(1, cfg, device)?;
    let tried = catch_unwind(AssertUnwindSafe(|| {
        infer(net, &example).f_to_kind(Kind::Float).map(drop)
    }));
    let why = match tried {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => first_line_of(&e.to_string()),
        Err(panic) => first_line_of(crate::error::panic_message(panic.as_ref())),
    };
    Err(Error::config(
        "precision",
        format!(
            "{} is not supported by this libtorch on {device:?}: {why}; use --precision fp32{}",
            cfg.precision.name(),
            if device == tch::Device::Cpu {
                " (or a GPU)"
            } else {
                ""
            }
        ),
    ))
}

fn first_line_of(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

pub(super) fn trace(net: &FuncT<'static>, example: Tensor) -> Result<CModule> {
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
