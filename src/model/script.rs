//! TorchScript modules, traced from a built-in model or loaded from a user's file
//! (`torchscript:PATH`, saved by `torch.jit.save`), and what their forward returns.
//!
//! A user's model may return a tuple, a list or a dict (logits and extras): the
//! response is its first tensor, found depth-first, and the report says which
//! ([`describe_output`]). Workers share one module: a `CModule` is `Sync`, as the
//! seed's threads share one `nn.Module`.

use std::path::Path;

use tch::{CModule, Device, IValue, Kind, Tensor};

use crate::config::Precision;
use crate::error::{Error, Result};

/// A TorchScript module whose response is its output's first tensor.
pub struct ScriptModule {
    module: CModule,
}

impl ScriptModule {
    /// Wraps a module (traced here or loaded), in inference mode.
    pub fn new(mut module: CModule) -> Self {
        module.set_eval();
        Self { module }
    }

    /// Loads `path` onto `device` with its floating-point weights in `precision`. A
    /// missing file, or one `torch.jit.load` cannot read, is an error that names the
    /// file and what to do.
    pub fn load(path: &Path, device: Device, precision: Precision) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::config(
                "model",
                format!(
                    "torchscript:{}: no such file (save one with torch.jit.save(torch.jit.trace(model, example), PATH))",
                    path.display()
                ),
            ));
        }
        let mut module = CModule::load_on_device(path, device).map_err(|e| {
            Error::config(
                "model",
                format!(
                    "torchscript:{}: not a TorchScript file this libtorch can read ({}); save it with torch.jit.save",
                    path.display(),
                    crate::error::without_cpp_frames(&e.to_string()).trim()
                ),
            )
        })?;
        if precision != Precision::Fp32 {
            module.to(device, precision.kind(), false);
        }
        Ok(Self::new(module))
    }

    /// The module (to save or freeze it).
    pub fn module(&self) -> &CModule {
        &self.module
    }

    /// Trainable parameters, counted from the module's named parameters (none once
    /// frozen: freezing turns them into constants).
    pub fn parameters(&self) -> u64 {
        self.module
            .named_parameters()
            .map(|ps| ps.iter().map(|(_, t)| t.numel() as u64).sum())
            .unwrap_or(0)
    }

    /// The module's whole output for `inputs`.
    pub fn call(&self, inputs: &[Tensor]) -> Result<IValue> {
        let args: Vec<IValue> = inputs
            .iter()
            .map(|t| IValue::Tensor(t.shallow_clone()))
            .collect();
        Ok(self.module.forward_is(&args)?)
    }

    /// The response for `inputs`: the output's first tensor.
    pub fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        let output = self.call(inputs)?;
        first_tensor(output).ok_or_else(|| {
            Error::Pipeline("the model's output holds no tensor to respond with".into())
        })
    }
}

/// The first tensor in `value`, depth-first (a dict's values in its order).
pub fn first_tensor(value: IValue) -> Option<Tensor> {
    match value {
        IValue::Tensor(t) => Some(t),
        IValue::TensorList(ts) => ts.into_iter().next(),
        IValue::Tuple(vs) | IValue::GenericList(vs) => vs.into_iter().find_map(first_tensor),
        IValue::GenericDict(kvs) => kvs.into_iter().find_map(|(_, v)| first_tensor(v)),
        _ => None,
    }
}

/// What the response is, for the report: `the output tensor`, or e.g. `the first
/// tensor of a tuple of 2` when the output is a container.
pub fn describe_output(value: &IValue) -> String {
    let (what, len) = match value {
        IValue::Tensor(_) => return "the output tensor".into(),
        IValue::TensorList(ts) => ("list", ts.len()),
        IValue::Tuple(vs) => ("tuple", vs.len()),
        IValue::GenericList(vs) => ("list", vs.len()),
        IValue::GenericDict(kvs) => {
            let key = kvs.iter().find_map(|(k, v)| {
                first_tensor_ref(v).then(|| match k {
                    IValue::String(s) => format!(" ('{s}')"),
                    _ => String::new(),
                })
            });
            return format!(
                "the first tensor of a dict of {}{}",
                kvs.len(),
                key.unwrap_or_default()
            );
        }
        _ => return "no tensor".into(),
    };
    format!("the first tensor of a {what} of {len}")
}

fn first_tensor_ref(value: &IValue) -> bool {
    match value {
        IValue::Tensor(_) => true,
        IValue::TensorList(ts) => !ts.is_empty(),
        IValue::Tuple(vs) | IValue::GenericList(vs) => vs.iter().any(first_tensor_ref),
        IValue::GenericDict(kvs) => kvs.iter().any(|(_, v)| first_tensor_ref(v)),
        _ => false,
    }
}

/// Zeros of `kind` shaped `shape` on `device`: an example input for tracing.
pub fn zeros(shape: &[i64], kind: Kind, device: Device) -> Result<Tensor> {
    Ok(Tensor::f_zeros(shape, (kind, device))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: f32) -> Tensor {
        Tensor::from_slice(&[v])
    }

    #[test]
    fn the_response_is_the_first_tensor_depth_first() {
        let nested = IValue::Tuple(vec![
            IValue::Int(3),
            IValue::GenericList(vec![IValue::Tensor(t(1.0)), IValue::Tensor(t(2.0))]),
            IValue::Tensor(t(3.0)),
        ]);
        assert_eq!(describe_output(&nested), "the first tensor of a tuple of 3");
        assert_eq!(first_tensor(nested).unwrap().double_value(&[0]), 1.0);
        let dict = IValue::GenericDict(vec![
            (IValue::String("loss".into()), IValue::None),
            (IValue::String("logits".into()), IValue::Tensor(t(5.0))),
        ]);
        assert_eq!(
            describe_output(&dict),
            "the first tensor of a dict of 2 ('logits')"
        );
        assert_eq!(first_tensor(dict).unwrap().double_value(&[0]), 5.0);
        assert!(first_tensor(IValue::Tuple(vec![IValue::Int(1)])).is_none());
        assert_eq!(
            describe_output(&IValue::Tensor(t(0.0))),
            "the output tensor"
        );
    }

    #[test]
    fn a_missing_or_unreadable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pt");
        let err = ScriptModule::load(&missing, Device::Cpu, Precision::Fp32)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("nope.pt: no such file"), "{err}");
        let junk = dir.path().join("junk.pt");
        std::fs::write(&junk, b"not a zip archive").unwrap();
        let err = ScriptModule::load(&junk, Device::Cpu, Precision::Fp32)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("junk.pt: not a TorchScript file") && err.contains("torch.jit.save"),
            "{err}"
        );
    }
}
