//! Every flag a kind of model cannot honour is refused by name before anything
//! runs, and never recorded as if it had applied: each "refused" cell of
//! docs/flags.md, at the command line. Refusals come from the configuration's
//! checks, so no model file needs to exist for them, except where noted.

use crate::common;

use common::{inferbench, s};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/models/tiny_cnn.pt");

/// `run` with `args` must exit 1 naming `field` and `needle`, writing no results.
fn refused(args: &[&str], field: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let mut all = vec!["run", "-q", "--iters", "5", "--no-bare", "--out", s(&out)];
    all.extend_from_slice(args);
    let result = inferbench(&all);
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.contains(&format!("invalid configuration: {field}:")) && err.contains(needle),
        "{args:?}: expected '{field}: … {needle}' in:\n{err}"
    );
    assert!(!out.exists(), "{args:?}: a refused run writes nothing");
}

#[test]
fn precision_is_refused_where_it_cannot_change_what_runs() {
    // An AOTInductor package runs the precision it was compiled in: asked for fp16
    // it used to run its own fp32 and record "precision": "fp16".
    for precision in ["fp16", "bf16"] {
        refused(
            &[
                "--model",
                "aoti:model.pt2",
                "--input",
                "3x8x8:f32",
                "--precision",
                precision,
            ],
            "precision",
            "compiled in",
        );
    }
    // The spin model has no weights; --precision is its default image's dtype only.
    refused(
        &[
            "--model",
            "spin:1ms",
            "--input",
            "16:f32",
            "--precision",
            "fp16",
        ],
        "precision",
        "give the dtype in the --input spec",
    );
    refused(
        &[
            "--model",
            "tiny-transformer",
            "--quantize",
            "dynamic-int8",
            "--compile",
            "torchscript",
            "--precision",
            "bf16",
        ],
        "quantize",
        "fp32 activations",
    );
}

#[test]
fn compile_modes_a_kind_has_not_are_refused() {
    let script = format!("torchscript:{SCRIPT}");
    for mode in ["eager", "aot-inductor"] {
        refused(
            &["--model", &script, "--compile", mode],
            "compile",
            "a TorchScript file is already compiled",
        );
    }
    for mode in ["eager", "torchscript", "frozen"] {
        refused(
            &["--model", "aoti:model.pt2", "--compile", mode],
            "compile",
            "an AOTInductor package is already compiled",
        );
    }
    for mode in ["torchscript", "frozen", "aot-inductor"] {
        for model in ["spin:1ms", "fail:spin:1ms@3"] {
            refused(
                &["--model", model, "--compile", mode],
                "compile",
                "the spin model has no graph",
            );
        }
    }
    refused(
        &["--model", "tiny-transformer", "--quantize", "dynamic-int8"],
        "quantize",
        "use --compile torchscript or frozen",
    );
}

#[test]
fn layout_and_quantization_are_refused_off_their_models() {
    let script = format!("torchscript:{SCRIPT}");
    for model in ["tiny-transformer", &script, "aoti:model.pt2", "spin:1ms"] {
        refused(
            &["--model", model, "--channels-last"],
            "channels-last",
            "built-in image models",
        );
    }
    for model in ["resnet18", &script, "aoti:model.pt2", "spin:1ms"] {
        refused(
            &["--model", model, "--quantize", "dynamic-int8"],
            "quantize",
            "not a text model",
        );
    }
    refused(
        &[
            "--model",
            "tiny-transformer",
            "--quantize",
            "dynamic-int8",
            "--compile",
            "frozen",
            "--device",
            "cuda",
        ],
        "quantize",
        "CPU only",
    );
}

#[test]
fn inputs_and_image_sizes_are_refused_where_they_are_not_read() {
    for model in [
        "resnet18",
        "tiny-cnn",
        "mobilenet_v3_small",
        "fail:tiny-cnn@4",
    ] {
        refused(
            &["--model", model, "--input", "3x16x16:f32"],
            "input",
            "use --image-size",
        );
    }
    // An image size given to a model that reads none was dropped silently.
    refused(
        &["--model", "tiny-transformer", "--image-size", "32"],
        "image-size",
        "takes token ids",
    );
    let script = format!("torchscript:{SCRIPT}");
    for model in [script.as_str(), "aoti:model.pt2", "spin:1ms"] {
        refused(
            &[
                "--model",
                model,
                "--input",
                "3x16x16:f32",
                "--image-size",
                "32",
            ],
            "image-size",
            "the inputs are those of --input",
        );
    }
    // calibrate shares the rule.
    let out = inferbench(&[
        "calibrate",
        "--model",
        "tiny-transformer",
        "--image-size",
        "32",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("image-size: 32 px does not apply"), "{err}");
}

#[test]
fn a_sweep_file_is_held_to_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        (
            "model = \"tiny-transformer\"\nimage_size = 32\n",
            "image-size: 32 px does not apply",
        ),
        (
            "model = \"spin:1ms\"\ncompile = [\"eager\", \"torchscript\"]\n",
            "the spin model has no graph",
        ),
        (
            "model = \"aoti:m.pt2\"\nprecisions = [\"fp16\"]\n",
            "precision: fp16",
        ),
        // An empty axis is refused as batch_sizes = [] is; it ran the default.
        ("intra_op_threads = []\n", "intra_op_threads: is empty"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = inferbench(&["sweep", "--config", s(&path), "--dry-run"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(
            err.contains(needle),
            "{text}: expected '{needle}' in:\n{err}"
        );
    }
}

#[test]
fn the_summary_names_the_precision_and_layout_that_ran() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let result = common::inferbench_ok(&[
        "run",
        "--model",
        "tiny-cnn",
        "--image-size",
        "8",
        "--iters",
        "5",
        "--no-bare",
        "--channels-last",
        "--out",
        s(&out),
    ]);
    let summary = String::from_utf8_lossy(&result.stdout);
    let first = summary.lines().next().unwrap_or_default();
    assert!(
        first.contains("eager, fp32, channels-last"),
        "the configuration line: {first}"
    );
}
