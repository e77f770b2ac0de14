//! Which settings each kind of model honours, in one place: a setting a model
//! cannot honour is refused here, by name, before anything runs, so that no record
//! claims a setting that did not apply (an AOTInductor package asked for fp16 runs
//! the precision it was compiled in). `docs/flags.md` is this table in words, for
//! every flag of `run`; `tests/suite/flags_by_model.rs` runs each refusal.

use super::{CompileMode, ModelConfig, Precision, Quantize};
use crate::error::{Error, Result};

/// What kind of model a configuration serves (a `fail:` model: the kind it wraps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// A built-in image model (`resnet18`, `mobilenet_v3_small`, `tiny-cnn`, or a
    /// checkpoint of one): weights built here, 3 × image-size² images.
    ImageCnn,
    /// A built-in model over token ids (`tiny-transformer`).
    Text,
    /// `torchscript:PATH`, a module saved by `torch.jit.save`.
    TorchscriptFile,
    /// `aoti:PATH`, a package compiled ahead of time (its precision, device and
    /// shapes fixed when it was made).
    AotiPackage,
    /// `spin:<duration>`: no weights, a forward that busy-waits on its thread.
    Spin,
}

impl ModelKind {
    /// The kind `model` names (unknown names count as image models; the model layer
    /// refuses them).
    pub fn of(model: &ModelConfig) -> Self {
        match super::ModelFile::find(&model.name).filter(|_| model.dir.is_none()) {
            Some((super::ModelFile::Torchscript, ..)) => Self::TorchscriptFile,
            Some((super::ModelFile::Aoti, ..)) => Self::AotiPackage,
            None if !model.has_weights() => Self::Spin,
            None if model.token_input().is_some() => Self::Text,
            None => Self::ImageCnn,
        }
    }

    /// How errors name the kind.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ImageCnn => "a built-in image model",
            Self::Text => "a built-in text model",
            Self::TorchscriptFile => "a TorchScript file",
            Self::AotiPackage => "an AOTInductor package",
            Self::Spin => "the spin model",
        }
    }

    /// The compile modes the kind has; the first is the one it takes by default.
    pub fn compiles(self) -> &'static [CompileMode] {
        use CompileMode::*;
        match self {
            Self::ImageCnn | Self::Text => &[Eager, Torchscript, Frozen, AotInductor, CudaGraph],
            Self::TorchscriptFile => &[Torchscript, Frozen],
            Self::AotiPackage => &[AotInductor],
            Self::Spin => &[Eager],
        }
    }

    /// Why the kind has no such compile mode.
    fn why_not_compiled(self) -> &'static str {
        match self {
            Self::TorchscriptFile => "a TorchScript file is already compiled and has no such form",
            Self::AotiPackage => "an AOTInductor package is already compiled and has no such form",
            _ => "the spin model has no graph to trace or export",
        }
    }
}

impl ModelConfig {
    /// The kind of model this configuration serves.
    pub fn kind(&self) -> ModelKind {
        ModelKind::of(self)
    }

    /// Refuses every setting the model's kind cannot honour, naming the flag:
    /// `--input` (image models take `--image-size`), `--compile`, `--precision`,
    /// `--channels-last` and `--quantize`.
    pub(super) fn check_honoured(&self) -> Result<()> {
        let kind = self.kind();
        let refuse = |field, why: String| Err(Error::config(field, why));
        if !self.inputs.is_empty() && kind == ModelKind::ImageCnn {
            return refuse(
                "input",
                format!(
                    "{} takes 3 × image-size × image-size images; --input is for model files (torchscript:PATH, aoti:PATH), token models (tiny-transformer) and spin models: use --image-size",
                    self.name
                ),
            );
        }
        if !kind.compiles().contains(&self.compile) {
            let modes: Vec<&str> = kind.compiles().iter().map(|m| m.name()).collect();
            return refuse(
                "compile",
                format!(
                    "{}: {}; use {}",
                    self.compile.name(),
                    kind.why_not_compiled(),
                    modes.join(" or ")
                ),
            );
        }
        if self.precision != Precision::Fp32 {
            let why = match kind {
                ModelKind::AotiPackage => Some(
                    "an AOTInductor package runs in the precision it was compiled in, which --precision cannot change; leave it at fp32 and give the package's input dtypes with --input (e.g. 3x224x224:f16)",
                ),
                ModelKind::Spin if !self.inputs.is_empty() => Some(
                    "the spin model has no weights, and --precision sets only the element type of its default image, which --input replaces; give the dtype in the --input spec",
                ),
                _ => None,
            };
            if let Some(why) = why {
                return refuse("precision", format!("{}: {why}", self.precision.name()));
            }
        }
        if self.channels_last && kind != ModelKind::ImageCnn {
            return refuse(
                "channels-last",
                format!(
                    "{} is not a built-in image model but {}; channels-last is for the built-in image models (resnet18, mobilenet_v3_small, tiny-cnn)",
                    self.name,
                    kind.describe()
                ),
            );
        }
        self.check_quantize(kind)
    }

    fn check_quantize(&self, kind: ModelKind) -> Result<()> {
        if self.quantize == Quantize::None {
            return Ok(());
        }
        let why = if kind != ModelKind::Text {
            format!(
                "{} is not a text model; dynamic-int8 is for tiny-transformer",
                self.name
            )
        } else if !matches!(self.compile, CompileMode::Torchscript | CompileMode::Frozen) {
            format!(
                "the quantized model runs as TorchScript, not {}: use --compile torchscript or frozen",
                self.compile.name()
            )
        } else if self.precision != Precision::Fp32 {
            "the quantized model takes fp32 activations: use --precision fp32".to_string()
        } else {
            return Ok(());
        };
        Err(Error::config(
            "quantize",
            format!("{}: {why}", self.quantize.name()),
        ))
    }

    /// Refuses an image size given explicitly (a flag, a sweep file's field) to a
    /// model that reads none: a text model, or a model whose inputs `--input` gives.
    /// Only the caller knows whether the size was given or is the default.
    pub fn check_image_size_given(&self) -> Result<()> {
        let why = if self.kind() == ModelKind::Text {
            format!("{} takes token ids, not images", self.name)
        } else if !self.inputs.is_empty() {
            "the inputs are those of --input".to_string()
        } else {
            return Ok(());
        };
        Err(Error::config(
            "image-size",
            format!(
                "{} px does not apply: {why}; leave --image-size out, or give the shape in --input",
                self.image_size
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str) -> ModelConfig {
        ModelConfig {
            name: name.into(),
            compile: ModelConfig::default_compile(name),
            ..ModelConfig::default()
        }
    }

    #[test]
    fn kinds_are_read_from_the_name_also_inside_a_fault() {
        for (name, kind) in [
            ("resnet18", ModelKind::ImageCnn),
            ("fail:tiny-cnn@3", ModelKind::ImageCnn),
            ("tiny-transformer", ModelKind::Text),
            ("fail:tiny-transformer@2:panic", ModelKind::Text),
            ("torchscript:m.pt", ModelKind::TorchscriptFile),
            ("aoti:m.pt2", ModelKind::AotiPackage),
            ("fail:aoti:m.pt2@4", ModelKind::AotiPackage),
            ("spin:1ms", ModelKind::Spin),
            ("fail:spin:1ms@10", ModelKind::Spin),
        ] {
            assert_eq!(model(name).kind(), kind, "{name}");
        }
    }

    #[test]
    fn each_kind_refuses_what_it_cannot_honour_by_flag() {
        let refused = |m: ModelConfig, field: &str| {
            let err = m.check_honoured().unwrap_err().to_string();
            assert!(err.contains(&format!("{field}:")), "{field}: {err}");
        };
        let mut m = model("aoti:m.pt2");
        m.precision = Precision::Fp16;
        refused(m, "precision");
        let mut m = model("spin:1ms");
        m.compile = CompileMode::Torchscript;
        refused(m, "compile");
        let mut m = model("spin:1ms");
        m.precision = Precision::Bf16;
        m.check_honoured().unwrap(); // the default image's element type
        m.inputs = vec!["4:f32".parse().unwrap()];
        refused(m, "precision");
        let mut m = model("torchscript:m.pt");
        m.channels_last = true;
        refused(m, "channels-last");
        let mut m = model("torchscript:m.pt");
        m.precision = Precision::Fp16;
        m.check_honoured().unwrap(); // the module is cast
        let mut m = model("tiny-transformer");
        m.compile = CompileMode::AotInductor;
        m.quantize = Quantize::DynamicInt8;
        refused(m, "quantize");
    }

    #[test]
    fn an_image_size_is_refused_where_no_image_is_read() {
        model("resnet18").check_image_size_given().unwrap();
        model("aoti:m.pt2").check_image_size_given().unwrap();
        let err = model("tiny-transformer")
            .check_image_size_given()
            .unwrap_err();
        assert!(err.to_string().contains("image-size"), "{err}");
        let mut spin = model("spin:1ms");
        spin.inputs = vec!["4:f32".parse().unwrap()];
        assert!(spin.check_image_size_given().is_err());
    }
}
