//! The fault-injecting model, so that users and tests can watch the pipeline's
//! failure paths: `fail:<model>@N[:error|:panic|:hang]` runs `<model>` and makes its
//! N-th forward (counted over every worker of the pipeline, warm-up included) fail
//! with an error (the default), panic, or never return. Every other forward is the
//! inner model's. The bare-forward loop runs the inner model unwrapped: the faults
//! are the pipeline's to survive.
//!
//! Examples: `fail:spin:2ms@10` (the 10th forward errors), `fail:tiny-cnn@5:panic`,
//! `fail:spin:1ms@20:hang`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tch::Tensor;

use super::Forward;
use crate::error::{Error, Result};

/// What the faulty forward does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Returns an error.
    Error,
    /// Panics.
    Panic,
    /// Never returns (the thread parks for good).
    Hang,
}

/// A parsed `fail:` model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    /// The model that runs: `spin:2ms`, `tiny-cnn`, `resnet18`.
    pub inner: String,
    /// Which forward fails, counting from 1.
    pub at: u64,
    /// How it fails.
    pub kind: FaultKind,
}

impl FaultSpec {
    /// `None` for a name without the `fail:` prefix; an error naming the expected
    /// form for a malformed one.
    pub fn parse(name: &str) -> Result<Option<Self>> {
        let Some(rest) = name.trim().strip_prefix("fail:") else {
            return Ok(None);
        };
        let bad = |why: &str| {
            Error::config(
                "model",
                format!(
                    "'{name}': {why}; expected fail:<model>@N[:error|:panic|:hang], e.g. fail:spin:2ms@10:panic"
                ),
            )
        };
        let (inner, fault) = rest.rsplit_once('@').ok_or_else(|| bad("no @N"))?;
        if inner.is_empty() || inner.starts_with("fail:") {
            return Err(bad("the model before @ is missing or itself a fail: model"));
        }
        let (at, kind) = match fault.split_once(':') {
            None => (fault, FaultKind::Error),
            Some((at, "error")) => (at, FaultKind::Error),
            Some((at, "panic")) => (at, FaultKind::Panic),
            Some((at, "hang")) => (at, FaultKind::Hang),
            Some(_) => return Err(bad("the fault is not error, panic or hang")),
        };
        let at: u64 = at
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| bad("N is not a whole number ≥ 1"))?;
        Ok(Some(Self {
            inner: inner.to_string(),
            at,
            kind,
        }))
    }

    /// The name as [`FaultSpec::parse`] reads it.
    pub fn name(&self) -> String {
        let kind = match self.kind {
            FaultKind::Error => "error",
            FaultKind::Panic => "panic",
            FaultKind::Hang => "hang",
        };
        format!("fail:{}@{}:{kind}", self.inner, self.at)
    }
}

/// The count of forwards, shared by every worker's instance of one prepared model.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    spec: FaultSpec,
    forwards: Arc<AtomicU64>,
}

impl FaultPlan {
    /// A fresh count for `spec`.
    pub fn new(spec: FaultSpec) -> Self {
        Self {
            spec,
            forwards: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The spec.
    pub fn spec(&self) -> &FaultSpec {
        &self.spec
    }

    /// `inner` with the fault injected.
    pub fn wrap(&self, inner: Box<dyn Forward>) -> Box<dyn Forward> {
        Box::new(FaultyModel {
            inner,
            plan: self.clone(),
        })
    }
}

struct FaultyModel {
    inner: Box<dyn Forward>,
    plan: FaultPlan,
}

impl Forward for FaultyModel {
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        let n = self.plan.forwards.fetch_add(1, Ordering::Relaxed) + 1;
        let spec = &self.plan.spec;
        if n != spec.at {
            return self.inner.forward(inputs);
        }
        match spec.kind {
            FaultKind::Error => Err(Error::Pipeline(format!(
                "injected fault: forward {n} failed ({})",
                spec.name()
            ))),
            FaultKind::Panic => panic!("injected fault: forward {n} panicked ({})", spec.name()),
            FaultKind::Hang => loop {
                std::thread::park();
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_the_error_fault_by_default() {
        let spec = FaultSpec::parse("fail:spin:2ms@10").unwrap().unwrap();
        assert_eq!(
            spec,
            FaultSpec {
                inner: "spin:2ms".into(),
                at: 10,
                kind: FaultKind::Error
            }
        );
        assert_eq!(spec.name(), "fail:spin:2ms@10:error");
        let hang = FaultSpec::parse("fail:tiny-cnn@3:hang").unwrap().unwrap();
        assert_eq!(
            (hang.inner.as_str(), hang.at, hang.kind),
            ("tiny-cnn", 3, FaultKind::Hang)
        );
        assert_eq!(FaultSpec::parse("spin:2ms").unwrap(), None);
    }

    #[test]
    fn malformed_names_say_what_is_expected() {
        for bad in [
            "fail:spin:2ms",
            "fail:spin:2ms@0",
            "fail:spin:2ms@x",
            "fail:@3",
            "fail:spin:1ms@3:explode",
        ] {
            let err = FaultSpec::parse(bad).unwrap_err().to_string();
            assert!(err.contains("fail:<model>@N"), "{bad}: {err}");
        }
    }

    struct Echo;
    impl Forward for Echo {
        fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
            Ok(inputs[0].shallow_clone())
        }
    }

    #[test]
    fn only_the_nth_forward_over_all_instances_fails() {
        let plan = FaultPlan::new(FaultSpec::parse("fail:x@3").unwrap().unwrap());
        let (a, b) = (plan.wrap(Box::new(Echo)), plan.wrap(Box::new(Echo)));
        let t = [Tensor::from_slice(&[1.0f32])];
        assert!(a.forward(&t).is_ok());
        assert!(b.forward(&t).is_ok());
        let err = a.forward(&t).unwrap_err().to_string();
        assert!(err.contains("forward 3"), "{err}");
        assert!(b.forward(&t).is_ok());
    }

    #[test]
    fn the_panic_fault_panics() {
        let plan = FaultPlan::new(FaultSpec::parse("fail:x@1:panic").unwrap().unwrap());
        let model = plan.wrap(Box::new(Echo));
        let t = [Tensor::from_slice(&[1.0f32])];
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.forward(&t)));
        assert!(caught.is_err());
    }
}
