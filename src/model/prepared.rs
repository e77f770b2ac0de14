//! What preparing a model gives: a [`PreparedModel`], loaded (and compiled) once,
//! that hands each worker its own callable instance
//! ([`Forward`]), for forwards of the sizes it was prepared for. Preparing one is the work of `prepare.rs` (and, for
//! model files, `file.rs`); this file is what both produce.
//!
//! Why per-worker instances: tch's eager `FuncT` is `Send` but not `Sync`, so each
//! eager worker gets its own `VarStore` copied from the loaded one. A TorchScript
//! module is `Sync`, so its workers share one, as the seed's threads share one
//! `nn.Module`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use tch::nn::{FuncT, VarStore};
use tch::Tensor;

use super::aoti::AotiModule;
use super::fault::FaultPlan;
use super::forward::Forward;
use super::graphed::GraphPlan;
use super::jit::FrozenModule;
use super::script::ScriptModule;
use super::spin::SpinModel;
use super::zoo::{infer, Architecture};
use crate::config::Precision;
use crate::error::{Error, Result};
use crate::results::ModelInfo;

pub(super) enum Prepared {
    Eager {
        master: VarStore,
        arch: Architecture,
        precision: Precision,
    },
    Script(Arc<ScriptModule>),
    Frozen(Arc<FrozenModule>),
    /// An AOTInductor package: each instance loads its own runner.
    Aoti {
        path: std::path::PathBuf,
        device: tch::Device,
    },
    Spin(SpinModel),
    /// The eager forward, captured per worker as CUDA graphs (`--compile cuda-graph`).
    Graphed {
        master: VarStore,
        arch: Architecture,
        precision: Precision,
        plan: GraphPlan,
    },
}

/// A loaded (and possibly compiled) model, ready to hand out worker instances.
pub struct PreparedModel {
    /// Description for reports.
    pub info: ModelInfo,
    /// Time to load (or generate) the weights; `None` for a model without weights.
    pub load_time: Option<Duration>,
    /// Time to trace (and freeze) the model; `None` when nothing was compiled (eager,
    /// a TorchScript file run as saved).
    pub compile_time: Option<Duration>,
    pub(super) prepared: Prepared,
    pub(super) fault: Option<FaultPlan>,
    /// Weights in the channels-last memory format: inputs should be too.
    pub(super) channels_last: bool,
}

struct EagerModel {
    _vs: VarStore,
    net: FuncT<'static>,
}

impl Forward for EagerModel {
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        let input = inputs
            .first()
            .ok_or_else(|| Error::Pipeline("the forward got no input".into()))?;
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

struct SharedScript(Arc<ScriptModule>);

impl Forward for SharedScript {
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        self.0.forward(inputs)
    }
}

impl Forward for AotiModule {
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        AotiModule::forward(self, inputs).map_err(|e| match e {
            Error::Pipeline(why) => Error::Pipeline(format!("the forward failed: {why}")),
            other => other,
        })
    }
}

struct SharedFrozen(Arc<FrozenModule>);

impl Forward for SharedFrozen {
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        self.0.forward(inputs)
    }
}

impl PreparedModel {
    /// `input` in the layout the model's weights have: channels-last for a 4-D input
    /// of a `--channels-last` model (the device buffers, the bare loop's inputs), as
    /// it is otherwise.
    pub fn lay_out(&self, input: Tensor) -> Result<Tensor> {
        if self.channels_last && input.dim() == 4 {
            super::jit::to_channels_last(&input)
        } else {
            Ok(input)
        }
    }

    /// A fresh instance for one pipeline worker (with the fault of a `fail:` model).
    pub fn instance(&self) -> Result<Box<dyn Forward>> {
        let inner = self.bare_instance()?;
        Ok(match &self.fault {
            Some(plan) => plan.wrap(inner),
            None => inner,
        })
    }

    /// Threads one forward keeps busy with `intra_op_threads` set: those threads for
    /// libtorch's models, one for the spin model (it busy-waits on the calling thread).
    pub fn threads_per_forward(&self, intra_op_threads: u32) -> u32 {
        match self.prepared {
            Prepared::Spin(_) => 1,
            _ => intra_op_threads,
        }
    }

    /// A fresh instance without an injected fault, for the bare-forward loop.
    pub fn bare_instance(&self) -> Result<Box<dyn Forward>> {
        Ok(match &self.prepared {
            Prepared::Eager {
                master,
                arch,
                precision,
            } => Box::new(eager_copy(master, *arch, *precision, self.channels_last)?),
            Prepared::Script(module) => Box::new(SharedScript(Arc::clone(module))),
            Prepared::Frozen(module) => Box::new(SharedFrozen(Arc::clone(module))),
            Prepared::Aoti { path, device } => Box::new(AotiModule::load(path, *device)?),
            Prepared::Spin(spin) => Box::new(*spin),
            Prepared::Graphed {
                master,
                arch,
                precision,
                plan,
            } => plan.capture(Box::new(eager_copy(
                master,
                *arch,
                *precision,
                self.channels_last,
            )?))?,
        })
    }

    /// Seconds the model took to compile: the trace, freeze or export, or (CUDA
    /// graphs) one worker's capture once an instance has been made; `None` when
    /// nothing was compiled.
    pub fn compile_time_s(&self) -> Option<f64> {
        match &self.prepared {
            Prepared::Graphed { plan, .. } => plan.capture_time(),
            _ => self.compile_time,
        }
        .map(|d| d.as_secs_f64())
    }

    /// The model as the report describes it, with what its CUDA graphs counted.
    pub fn report_info(&self) -> ModelInfo {
        let mut info = self.info.clone();
        if let Prepared::Graphed { plan, .. } = &self.prepared {
            info.cuda_graph = Some(plan.facts());
        }
        info
    }
}

fn eager_copy(
    master: &VarStore,
    arch: Architecture,
    precision: Precision,
    channels_last: bool,
) -> Result<EagerModel> {
    let mut vs = VarStore::new(master.device());
    let net = super::unseeded(|| arch.build(&vs.root()))
        .expect("eager models have weights; this is a bug");
    cast(&mut vs, precision); // before the copy, which would otherwise cast back to fp32
    vs.copy(master)?;
    vs.freeze();
    if channels_last {
        weights_channels_last(&vs)?; // the copy wrote into the new variables' layout
    }
    Ok(EagerModel { _vs: vs, net })
}

/// Every 4-D weight of `vs` (the convolutions) in the channels-last memory format.
pub(super) fn weights_channels_last(vs: &VarStore) -> Result<()> {
    for (_, mut var) in vs.variables() {
        if var.dim() == 4 {
            let laid_out = super::jit::to_channels_last(&var)?;
            var.set_data(&laid_out);
        }
    }
    Ok(())
}

/// Casts a var store's float weights (and batch-norm statistics) to `precision`.
pub(super) fn cast(vs: &mut VarStore, precision: Precision) {
    match precision {
        Precision::Fp32 => {}
        Precision::Fp16 => vs.half(),
        Precision::Bf16 => vs.bfloat16(),
    }
}
