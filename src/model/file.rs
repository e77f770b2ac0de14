//! A model the user brought, fed the inputs of `--input` specs: `torchscript:PATH`,
//! a module saved by `torch.jit.save`, or `aoti:PATH`, an AOTInductor package.
//!
//! Before anything is timed the file is loaded once to probe it: one forward of a
//! batch drawn from the specs, so a spec the model refuses (a shape, a dtype, a
//! token id out of its vocabulary) is an error naming the spec and the model's
//! own message, and the report learns what the response is. The probed module is
//! then dropped and the file loaded again for serving, so the module's first calls
//! (TorchScript's profiling runs) still fall in the warm-up, as for the built-in
//! models.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tch::{Device, Tensor};

use super::aoti::AotiModule;
use super::forward::Batches;
use super::jit::FrozenModule;
use super::prepared::{Prepared, PreparedModel};
use super::script::{describe_output, first_tensor, ScriptModule};
use crate::config::{CompileMode, InputSpec, ModelConfig, ModelFile};
use crate::error::{Error, Result};
use crate::results::ModelInfo;

/// Loads, probes and (for `frozen`) compiles the file `cfg` names. The probe runs
/// at every request's batch and, with dynamic batching, at the largest batch a
/// forward takes: a file made for one batch size fails here, not mid-run.
pub(super) fn prepare_file(
    cfg: &ModelConfig,
    batches: Batches,
    seed: u64,
    device: Device,
) -> Result<PreparedModel> {
    let example_batch = batches.example;
    let (kind, path) = match ModelFile::find(&cfg.name) {
        Some((kind, "", path)) => (kind, Path::new(path)),
        _ => {
            return Err(Error::config(
                "model",
                format!("{}: not a model file", cfg.name),
            ))
        }
    };
    let specs = cfg.input_specs();
    if kind == ModelFile::Aoti {
        if batches.max != example_batch {
            // A package checks its inputs at its first forward only: a fresh one.
            prepare_package(cfg, path, &specs, batches.max, seed, device)?;
        }
        return prepare_package(cfg, path, &specs, example_batch, seed, device);
    }
    let script = ScriptModule::load(path, device, cfg.precision)?;
    if batches.max != example_batch {
        probe(&script, &specs, batches.max, seed, device)?;
    }
    let probe = probe(&script, &specs, example_batch, seed, device)?;
    drop(script);
    let started = Instant::now();
    let script = ScriptModule::load(path, device, cfg.precision)?;
    let load_time = started.elapsed();
    let parameters = script.parameters();
    let (prepared, compile_time) = match cfg.compile {
        CompileMode::Torchscript => (Prepared::Script(Arc::new(script)), None),
        CompileMode::Frozen => {
            let started = Instant::now();
            let frozen = FrozenModule::freeze(script.module(), device)?;
            (Prepared::Frozen(Arc::new(frozen)), Some(started.elapsed()))
        }
        other => {
            return Err(Error::config(
                "compile",
                format!(
                    "{}: a TorchScript file is already compiled; use torchscript or frozen",
                    other.name()
                ),
            ))
        }
    };
    Ok(PreparedModel {
        info: ModelInfo {
            arch: cfg.name.clone(),
            weights: "file".into(),
            parameters: Some(parameters),
            image_size: cfg.image_size,
            num_classes: probe.elements_per_sample,
            inputs: specs.iter().map(ToString::to_string).collect(),
            output: Some(probe.output),
            compile_cache: None,
            cuda_graph: None,
        },
        load_time: Some(load_time),
        compile_time,
        prepared,
        fault: None,
        channels_last: false,
    })
}

/// An AOTInductor package: loaded once to probe it (a runner per worker later).
fn prepare_package(
    cfg: &ModelConfig,
    path: &Path,
    specs: &[InputSpec],
    batch: u32,
    seed: u64,
    device: Device,
) -> Result<PreparedModel> {
    let started = Instant::now();
    let package = AotiModule::load(path, device)?;
    let load_time = started.elapsed();
    let _guard = tch::no_grad_guard();
    let inputs = super::seeded(seed, || super::draw::draw_all(specs, batch, device))?;
    let (response, outputs) = package.checked_forward(&inputs).map_err(|e| {
        let why = match e {
            Error::Pipeline(why) => why,
            other => other.to_string(),
        };
        refused(specs, batch, first_message_line(&why))
    })?;
    let output = match outputs {
        1 => "the output tensor".to_string(),
        n => format!("the first of {n} output tensors"),
    };
    let elements_per_sample = check_rows(&response, batch, &output, specs)?;
    Ok(PreparedModel {
        info: ModelInfo {
            arch: cfg.name.clone(),
            weights: "file".into(),
            // A compiled package does not list its weights.
            parameters: None,
            image_size: cfg.image_size,
            num_classes: elements_per_sample,
            inputs: specs.iter().map(ToString::to_string).collect(),
            output: Some(output),
            compile_cache: None,
            cuda_graph: None,
        },
        load_time: Some(load_time),
        compile_time: None,
        prepared: Prepared::Aoti {
            path: path.to_path_buf(),
            device,
        },
        fault: None,
        channels_last: false,
    })
}

/// The error of a spec the model refused: names the specs and the model's message.
fn refused(specs: &[InputSpec], batch: u32, why: String) -> Error {
    let given: Vec<String> = specs.iter().map(|s| format!("--input {s}")).collect();
    Error::config(
        "input",
        format!(
            "the model refused {} (a batch of {batch}): {why}; give one --input per argument of its forward, in order, each SHAPE:DTYPE[:LO..HI] without the batch dimension",
            given.join(" ")
        ),
    )
}

/// The response must have one row per sample; returns the elements of one row.
fn check_rows(response: &Tensor, batch: u32, what: &str, specs: &[InputSpec]) -> Result<i64> {
    let shape = response.size();
    if shape.first() != Some(&(batch as i64)) {
        return Err(refused(
            specs,
            batch,
            format!("its response ({what}) has shape {shape:?}, not one row per sample; the response must be [batch, ...]"),
        ));
    }
    Ok(shape[1..].iter().product())
}

/// What one forward of a drawn batch showed.
struct Probe {
    output: String,
    elements_per_sample: i64,
}

/// One forward of `batch` samples drawn from `specs`: the model must take them and
/// answer with one row per sample.
fn probe(
    script: &ScriptModule,
    specs: &[InputSpec],
    batch: u32,
    seed: u64,
    device: Device,
) -> Result<Probe> {
    let _guard = tch::no_grad_guard();
    let inputs = super::seeded(seed, || super::draw::draw_all(specs, batch, device))?;
    let refused = |why: String| refused(specs, batch, why);
    let output = script
        .call(&inputs)
        .map_err(|e| refused(first_message_line(&e.to_string())))?;
    let description = describe_output(&output);
    let response: Tensor = first_tensor(output)
        .ok_or_else(|| refused(format!("its output ({description}) holds no tensor")))?;
    let elements_per_sample = check_rows(&response, batch, &description, specs)?;
    Ok(Probe {
        output: description,
        elements_per_sample,
    })
}

/// The line of a libtorch error that says what went wrong (TorchScript errors start
/// with a traceback of the scripted code and end with the exception's message).
fn first_message_line(text: &str) -> String {
    let cleaned = crate::error::without_cpp_frames(text);
    let lines: Vec<&str> = cleaned
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.contains("Error:") || l.contains("error:"))
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_default()
}
