//! Checking a grid's models before its first measurement: a sweep or a criterion
//! suite that met an unknown name or a corrupt file only at its configuration would
//! record it as failed after the others took their time, or measure nothing at all.
//!
//! The check is what can fail cheaply: the name parses (a built-in architecture, a
//! `spin:` duration, a `fail:` wrapper), a checkpoint's metadata and weights load,
//! and a model file loads as its kind (a TorchScript module, an AOTInductor package
//! on the configuration's device). Nothing is compiled and no forward runs: input
//! specs the model refuses are found by the run's own probe, before its timing.

use std::path::Path;

use tch::nn::VarStore;

use super::aoti::AotiModule;
use super::fault::FaultSpec;
use super::script::ScriptModule;
use super::{checkpoint, Architecture};
use crate::config::{DeviceSpec, ModelConfig, ModelFile, Precision, RunConfig};
use crate::error::{Error, Result};

/// Checks each distinct model of `configs` (see the module docs); the error names it.
pub fn check_grid(configs: &[RunConfig]) -> Result<()> {
    let mut seen: Vec<(&ModelConfig, DeviceSpec)> = Vec::new();
    // A target's model is the server's: the run's own start checks it is there.
    for cfg in configs.iter().filter(|c| c.target.is_none()) {
        let key = (&cfg.model, cfg.backend.device);
        let same = |(m, d): &(&ModelConfig, DeviceSpec)| {
            m.name == key.0.name && m.dir == key.0.dir && *d == key.1
        };
        if !seen.iter().any(same) {
            check_loads(&cfg.model, cfg.backend.device)?;
            seen.push(key);
        }
    }
    Ok(())
}

/// Checks that `model` names something this build can load on `device`, loading
/// its file or checkpoint once.
pub fn check_loads(model: &ModelConfig, device: DeviceSpec) -> Result<()> {
    let name = match FaultSpec::parse(&model.name)? {
        Some(fault) => fault.inner,
        None => model.name.clone(),
    };
    if let Some(dir) = &model.dir {
        let meta = checkpoint::read_meta(dir)?;
        let mut vs = VarStore::new(tch::Device::Cpu);
        let _net = super::unseeded(|| meta.arch.build(&vs.root()));
        return checkpoint::load_weights(&mut vs, dir);
    }
    match ModelFile::find(&name) {
        Some((ModelFile::Torchscript, "", path)) => {
            ScriptModule::load(Path::new(path), tch::Device::Cpu, Precision::Fp32).map(drop)
        }
        Some((ModelFile::Aoti, "", path)) => {
            let device = match device {
                DeviceSpec::Cpu => tch::Device::Cpu,
                DeviceSpec::Cuda(i) => tch::Device::Cuda(i as usize),
            };
            AotiModule::load(Path::new(path), device).map(drop)
        }
        Some((kind, before, _)) => Err(Error::config(
            "model",
            format!(
                "'{name}': '{before}' before {} is not a model wrapper (fail:<model>@N is)",
                kind.prefix()
            ),
        )),
        None => Architecture::parse(&name).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> ModelConfig {
        ModelConfig {
            name: name.into(),
            ..ModelConfig::default()
        }
    }

    #[test]
    fn names_wrappers_and_files_are_checked_and_the_error_names_them() {
        for ok in ["tiny-cnn", "spin:1ms", "fail:spin:1ms@3:panic"] {
            check_loads(&named(ok), DeviceSpec::Cpu).unwrap();
        }
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/models/tiny_cnn.pt");
        check_loads(&named(&format!("torchscript:{fixture}")), DeviceSpec::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let corrupt = dir.path().join("corrupt.pt");
        std::fs::write(&corrupt, b"not a model").unwrap();
        for (bad, needle) in [
            ("resnet1000".to_string(), "unknown model"),
            ("spin:fast".to_string(), "spin:"),
            ("fail:spin:1ms".to_string(), "fail:<model>@N"),
            (format!("torchscript:{}", corrupt.display()), "corrupt.pt"),
            ("aoti:/nowhere/m.pt2".to_string(), "/nowhere/m.pt2"),
        ] {
            let err = check_loads(&named(&bad), DeviceSpec::Cpu)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
