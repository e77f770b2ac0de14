//! Model files (`torchscript:PATH` with `--input` specs) through the whole pipeline:
//! every layout and batching policy answers each request with exactly what the
//! model computes for that request's inputs alone (a batching or copy-offset bug
//! fails here), and bad files or specs are clear errors that write no results.
//!
//! The files are `fixtures/models/*.pt`, written by `scripts/model-fixtures.py`.

use crate::common;

use std::path::{Path, PathBuf};

use inferbench::config::{BatchPolicy, CompileMode, InputSpec, ModelConfig, StreamLayout};
use inferbench::model::{prepare, script::ScriptModule, Batches};

use common::{inferbench, lines, refused, s, serve};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/models")
        .join(name)
}

fn specs(texts: &[&str]) -> Vec<InputSpec> {
    texts.iter().map(|t| t.parse().unwrap()).collect()
}

/// The largest difference between a response of `file` served in `streams` and
/// `batching` and the file's own output for that request alone.
fn largest_difference(
    file: &str,
    inputs: &[InputSpec],
    compile: CompileMode,
    streams: StreamLayout,
    batching: BatchPolicy,
) -> f64 {
    let cfg = ModelConfig {
        name: format!("torchscript:{}", s(&fixture(file))),
        compile,
        inputs: inputs.to_vec(),
        ..ModelConfig::default()
    };
    let batches = Batches::fixed(serve::BATCH);
    let model = prepare(&cfg, batches, 0, tch::Device::Cpu, &mut |_| {}).unwrap();
    let reference =
        ScriptModule::load(&fixture(file), tch::Device::Cpu, Default::default()).unwrap();
    serve::largest_difference(&model, inputs, streams, batching, &|request| {
        reference.forward(request).unwrap()
    })
}

#[test]
fn every_layout_answers_each_request_with_the_models_output_for_its_inputs() {
    let image = specs(&["3x12x12:f32"]);
    let ids_mask = specs(&["16:i64:0..100", "16:i64:0..2"]);
    let batched = BatchPolicy::Dynamic {
        max_batch_samples: 8,
        timeout_us: 2_000,
    };
    for (file, inputs) in [
        ("tiny_cnn.pt", &image),
        ("ids_mask_tuple.pt", &ids_mask),
        ("dict_output.pt", &image),
    ] {
        for streams in [StreamLayout::Shared, StreamLayout::Dedicated] {
            for batching in [BatchPolicy::None, batched] {
                let worst =
                    largest_difference(file, inputs, CompileMode::Torchscript, streams, batching);
                // The same kernels on the same values; batching may change the
                // reduction order inside a kernel by a few ulps, nothing more.
                assert!(worst < 1e-5, "{file} {streams:?} {batching:?}: {worst}");
            }
        }
    }
}

#[test]
fn a_frozen_file_answers_as_the_file_does() {
    let worst = largest_difference(
        "tiny_cnn.pt",
        &specs(&["3x12x12:f32"]),
        CompileMode::Frozen,
        StreamLayout::Shared,
        BatchPolicy::Dynamic {
            max_batch_samples: 8,
            timeout_us: 2_000,
        },
    );
    // Freezing folds and may reorder floating-point work: equal to rounding.
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn a_run_reports_the_inputs_and_what_the_response_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let model = format!("torchscript:{}", s(&fixture("ids_mask_tuple.pt")));
    let result = common::inferbench_ok(&[
        "run",
        "-q",
        "--model",
        &model,
        "--input",
        "16:i64:0..100",
        "--input",
        "16:i64:0..2",
        "--iters",
        "20",
        "--batch-size",
        "3",
        "--workers",
        "2",
        "--out",
        s(&out),
    ]);
    let summary = String::from_utf8_lossy(&result.stdout);
    assert!(
        summary.contains("input 16:i64:0..100 + 16:i64:0..2")
            && summary.contains("Response: the first tensor of a tuple of 2")
            && summary.contains("torchscript,")
            && summary.contains("compile time: n/a (the file as saved)"),
        "{summary}"
    );
    let line = std::fs::read_to_string(&out).unwrap();
    let report: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(
        report["model"]["num_classes"], 4,
        "the tuple's first tensor: 4 logits"
    );
    assert_eq!(report["model"]["inputs"][1], "16:i64:0..2");
    assert_eq!(report["model"]["weights"], "file");
    assert!(report["bare_forward_samples_per_s"]
        .as_f64()
        .unwrap()
        .is_finite());
}

#[test]
fn bad_files_and_specs_are_clear_errors_that_write_no_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let truncated = dir.path().join("truncated.pt");
    let whole = std::fs::read(fixture("tiny_cnn.pt")).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let missing = dir.path().join("missing.pt");
    let tiny = format!("torchscript:{}", s(&fixture("tiny_cnn.pt")));
    let ids = format!("torchscript:{}", s(&fixture("ids_mask_tuple.pt")));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                format!("torchscript:{}", s(&missing)),
                "--input".into(),
                "3x8x8:f32".into(),
            ],
            "missing.pt: no such file",
        ),
        (
            vec![
                format!("torchscript:{}", s(&truncated)),
                "--input".into(),
                "3x8x8:f32".into(),
            ],
            "truncated.pt: not a TorchScript file",
        ),
        (
            // a 1-channel image for a 3-channel convolution
            vec![tiny.clone(), "--input".into(), "1x8x8:f32".into()],
            "the model refused --input 1x8x8:f32",
        ),
        (
            // one input for a model of two
            vec![ids.clone(), "--input".into(), "16:i64:0..100".into()],
            "the model refused --input 16:i64:0..100",
        ),
        (
            // token ids past the embedding's 100 rows
            vec![
                ids,
                "--input".into(),
                "16:i64:0..5000".into(),
                "--input".into(),
                "16:i64:0..2".into(),
            ],
            "the model refused",
        ),
        (
            vec![tiny.clone(), "--input".into(), "3x8x8:f33".into()],
            "unknown dtype 'f33'",
        ),
        (
            vec![
                tiny,
                "--input".into(),
                "3x8x8:f32".into(),
                "--compile".into(),
                "eager".into(),
            ],
            "already compiled and has no such form",
        ),
        (
            vec!["resnet18".into(), "--input".into(), "3x8x8:f32".into()],
            "--input is for model files",
        ),
    ];
    for (model_args, needle) in cases {
        let mut args = vec![
            "run",
            "-q",
            "--iters",
            "5",
            "--no-bare",
            "--out",
            s(&out),
            "--model",
        ];
        args.extend(model_args.iter().map(String::as_str));
        refused(&args, needle);
        assert_eq!(lines(&out), 0, "{model_args:?} wrote a result");
    }
}

#[test]
fn the_spin_model_carries_several_inputs_through_every_layout() {
    // No libtorch kernel between the copies: a shape mismatch in the buffers of a
    // two-input request would fail the copy.
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("runs.jsonl");
    for streams in ["shared", "dedicated"] {
        let out = inferbench(&[
            "run",
            "-q",
            "--model",
            "spin:200us",
            "--input",
            "4x4:f32",
            "--input",
            "7:i64:0..3",
            "--max-batch-size",
            "6",
            "--batch-size",
            "2",
            "--streams",
            streams,
            "--iters",
            "30",
            "--no-bare",
            "--json",
            "--out",
            s(&results),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["requests"], 30);
        assert_eq!(report["config"]["model"]["inputs"][1], "7:i64:0..3");
    }
}

#[test]
fn the_seeds_models_run_end_to_end_and_refuse_inputs_they_cannot_take() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let result = common::inferbench_ok(&[
        "run",
        "-q",
        "--model",
        "tiny-transformer",
        "--input",
        "8:i64:0..30522",
        "--iters",
        "10",
        "--max-batch-size",
        "4",
        "--workers",
        "2",
        "--json",
        "--out",
        s(&out),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(report["model"]["num_classes"], 2);
    assert_eq!(report["model"]["inputs"][0], "8:i64:0..30522");
    let result = common::inferbench_ok(&[
        "run",
        "-q",
        "--model",
        "mobilenet_v3_small",
        "--image-size",
        "32",
        "--channels-last",
        "--streams",
        "dedicated",
        "--iters",
        "10",
        "--json",
        "--out",
        s(&out),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(report["model"]["parameters"], 2_542_856);
    assert_eq!(report["config"]["model"]["channels_last"], true);
    let before = lines(&out);
    for (args, needle) in [
        (
            vec!["--model", "tiny-transformer", "--input", "8:i64:0..99999"],
            "ids must lie in 0..30522",
        ),
        (
            vec!["--model", "tiny-transformer", "--input", "3x8x8:f32"],
            "not an integer type",
        ),
        (
            vec!["--model", "tiny-transformer", "--channels-last"],
            "not a built-in image model",
        ),
    ] {
        let mut all = vec!["run", "-q", "--iters", "5", "--out", s(&out)];
        all.extend(args);
        refused(&all, needle);
    }
    assert_eq!(lines(&out), before, "a refused run wrote a result");
}
