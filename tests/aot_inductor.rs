//! AOTInductor end to end: a user's package (`aoti:PATH`) through every layout and
//! batching policy answers each request as the package does for that request
//! alone; `--compile aot-inductor` on a built-in model answers as its eager form,
//! reports its compile, and comes from the cache the second time.
//!
//! The package is made here by `scripts/model-fixtures.py --aoti` (a package is
//! compiled for the instruction sets of the machine that makes it, so it is not
//! committed), with the venv's Python, once per build folder: about 20 s.
//! The tests take turns: the package's input checks are switched on through the
//! process environment while a package is probed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use inferbench::config::{BatchPolicy, CompileMode, InputSpec, ModelConfig, StreamLayout};
use inferbench::model::aoti::AotiModule;
use inferbench::model::{prepare, Batches};

use common::{s, serve};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The two-input package, made on first use and kept in the build folder.
fn package() -> &'static Path {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ids_mask_tuple.pt2");
        if !path.exists() {
            let out = Command::new(repo().join(".venv/bin/python"))
                .arg(repo().join("scripts/model-fixtures.py"))
                .args(["--aoti", s(&path)])
                .output()
                .expect("run the venv's Python (scripts/setup.sh makes it)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        path
    })
}

fn specs() -> Vec<InputSpec> {
    ["16:i64:0..100", "16:i64:0..2"]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect()
}

/// The largest difference between a response of the package served in `streams`
/// and `batching` and the package's own output for that request alone.
fn largest_difference(streams: StreamLayout, batching: BatchPolicy) -> f64 {
    let inputs = specs();
    let cfg = ModelConfig {
        name: format!("aoti:{}", s(package())),
        compile: CompileMode::AotInductor,
        inputs: inputs.clone(),
        ..ModelConfig::default()
    };
    let batches = Batches {
        example: serve::BATCH,
        max: batching.max_samples(serve::BATCH),
    };
    let model = prepare(&cfg, batches, 0, tch::Device::Cpu, &mut |_| {}).unwrap();
    let reference = AotiModule::load(package(), tch::Device::Cpu).unwrap();
    serve::largest_difference(&model, &inputs, streams, batching, &|request| {
        reference.forward(request).unwrap()
    })
}

#[test]
fn a_package_answers_each_request_in_every_layout_as_it_does_alone() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let batched = BatchPolicy::Dynamic {
        max_batch_samples: 8,
        timeout_us: 2_000,
    };
    for streams in [StreamLayout::Shared, StreamLayout::Dedicated] {
        for batching in [BatchPolicy::None, batched] {
            let worst = largest_difference(streams, batching);
            assert!(worst < 1e-5, "{streams:?} {batching:?}: {worst}");
        }
    }
}

#[test]
fn a_package_refuses_a_wrong_spec_before_anything_is_measured() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let model = format!("aoti:{}", s(package()));
    for (inputs, needle) in [
        (vec!["16:f32", "16:f32"], "unmatched dtype"),
        (
            vec!["8:i64:0..100", "8:i64:0..2"],
            "unmatched dim value at 1",
        ),
        (vec!["16:i64:0..100"], "expected inputs vector size to be 2"),
    ] {
        let mut args = vec![
            "run",
            "-q",
            "--iters",
            "5",
            "--out",
            s(&out),
            "--model",
            &model,
        ];
        for spec in &inputs {
            args.extend(["--input", spec]);
        }
        common::refused(&args, needle);
        assert_eq!(common::lines(&out), 0);
    }
    // Missing, truncated, or a TorchScript file given as a package.
    let truncated = dir.path().join("truncated.pt2");
    let whole = std::fs::read(package()).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let torchscript = repo().join("fixtures/models/ids_mask_tuple.pt");
    for (file, needle) in [
        (dir.path().join("missing.pt2"), "missing.pt2: no such file"),
        (truncated, "truncated.pt2: not an AOTInductor package"),
        (torchscript, "ids_mask_tuple.pt: not an AOTInductor package"),
    ] {
        let model = format!("aoti:{}", s(&file));
        common::refused(
            &[
                "run",
                "-q",
                "--iters",
                "5",
                "--out",
                s(&out),
                "--model",
                &model,
                "--input",
                "16:i64:0..100",
                "--input",
                "16:i64:0..2",
            ],
            needle,
        );
        assert_eq!(common::lines(&out), 0);
    }
}

#[test]
fn a_built_in_model_compiled_ahead_of_time_answers_as_eager_and_is_cached() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cache = tempfile::tempdir().unwrap();
    let run = |compile: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_inferbench"))
            .env("INFERBENCH_CACHE_DIR", cache.path())
            .args([
                "run",
                "-q",
                "--model",
                "tiny-cnn",
                "--image-size",
                "16",
                "--compile",
                compile,
                "--max-batch-size",
                "4",
                "--iters",
                "20",
                "--no-bare",
                "--json",
                "--out",
            ])
            .arg(cache.path().join("runs.jsonl"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = run("aot-inductor");
    let again = run("aot-inductor");
    assert_eq!(first["model"]["compile_cache"]["hit"], false);
    assert_eq!(again["model"]["compile_cache"]["hit"], true);
    let compiled = first["model"]["compile_cache"]["compiled_in_s"]
        .as_f64()
        .unwrap();
    assert!(
        compiled > 0.5,
        "an export and a C++ compile take seconds: {compiled}"
    );
    assert_eq!(
        again["model"]["compile_cache"]["compiled_in_s"].as_f64(),
        Some(compiled)
    );
    assert!(
        again["compile_time_s"].as_f64().unwrap() < first["compile_time_s"].as_f64().unwrap(),
        "a cache hit is only a lookup and a load"
    );

    // The package holds the run's own weights: it answers as the eager model does,
    // at every batch size up to the dynamic batching limit.
    std::env::set_var("INFERBENCH_CACHE_DIR", cache.path());
    let _guard = tch::no_grad_guard();
    let prepared = |compile| {
        let cfg = ModelConfig {
            name: "tiny-cnn".into(),
            image_size: 16,
            compile,
            ..ModelConfig::default()
        };
        let batches = Batches { example: 1, max: 4 };
        prepare(&cfg, batches, 0, tch::Device::Cpu, &mut |_| {}).unwrap()
    };
    let (eager, aot) = (
        prepared(CompileMode::Eager),
        prepared(CompileMode::AotInductor),
    );
    let (eager, aot) = (eager.instance().unwrap(), aot.instance().unwrap());
    for n in [1, 3, 4] {
        let input = tch::Tensor::randn([n, 3, 16, 16], (tch::Kind::Float, tch::Device::Cpu));
        let want = eager.forward(&[input.shallow_clone()]).unwrap();
        let got = aot.forward(&[input]).unwrap();
        let diff = (got - want).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "batch {n}: {diff}");
    }
}

/// `model` prepared in `compile` with the cache in `cache`, answering `input`.
fn answer(model: &ModelConfig, compile: CompileMode, input: &tch::Tensor, max: u32) -> tch::Tensor {
    let cfg = ModelConfig {
        compile,
        ..model.clone()
    };
    let batches = Batches {
        example: input.size()[0] as u32,
        max,
    };
    let prepared = prepare(&cfg, batches, 0, tch::Device::Cpu, &mut |_| {}).unwrap();
    let _guard = tch::no_grad_guard();
    let input = prepared.lay_out(input.shallow_clone()).unwrap();
    prepared.instance().unwrap().forward(&[input]).unwrap()
}

/// The AOTInductor package of `model` answers as its eager form.
fn aot_matches_eager(model: ModelConfig, input: tch::Tensor) {
    std::env::set_var(
        "INFERBENCH_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("aoti-cache"),
    );
    let n = input.size()[0] as u32;
    let want = answer(&model, CompileMode::Eager, &input, n);
    let got = answer(&model, CompileMode::AotInductor, &input, n);
    let diff = (got - want).abs().max().double_value(&[]);
    assert!(diff < 1e-3, "{}: {diff}", model.name);
}

#[test]
fn the_tiny_transformer_compiled_ahead_of_time_answers_as_eager() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let model = ModelConfig {
        name: "tiny-transformer".into(),
        inputs: vec!["16:i64:0..30522".parse().unwrap()],
        ..ModelConfig::default()
    };
    let ids = tch::Tensor::randint(30522, [2, 16], (tch::Kind::Int64, tch::Device::Cpu));
    aot_matches_eager(model, ids);
}

#[test]
#[ignore = "needs torchvision (scripts/setup.sh --torchvision) and half a minute per package"]
fn torchvisions_models_compiled_ahead_of_time_answer_as_eager() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (name, channels_last) in [
        ("resnet18", false),
        ("mobilenet_v3_small", false),
        ("mobilenet_v3_small", true),
    ] {
        let model = ModelConfig {
            name: name.into(),
            image_size: 32,
            channels_last,
            ..ModelConfig::default()
        };
        let image = tch::Tensor::randn([2, 3, 32, 32], (tch::Kind::Float, tch::Device::Cpu));
        aot_matches_eager(model, image);
    }
}

#[test]
fn the_quantized_transformer_answers_close_to_fp32_and_refuses_what_it_cannot_run() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var(
        "INFERBENCH_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("aoti-cache"),
    );
    let model = ModelConfig {
        name: "tiny-transformer".into(),
        inputs: vec!["16:i64:0..30522".parse().unwrap()],
        ..ModelConfig::default()
    };
    let ids = tch::Tensor::randint(30522, [4, 16], (tch::Kind::Int64, tch::Device::Cpu));
    let want = answer(&model, CompileMode::Torchscript, &ids, 4);
    for compile in [CompileMode::Torchscript, CompileMode::Frozen] {
        let quantized = ModelConfig {
            quantize: inferbench::config::Quantize::DynamicInt8,
            ..model.clone()
        };
        let got = answer(&quantized, compile, &ids, 4);
        // int8 weights: close to the fp32 answer, not equal to it.
        let scale = want.abs().max().double_value(&[]);
        let diff = (&got - &want).abs().max().double_value(&[]);
        assert!(
            diff > 0.0 && diff < 0.1 * scale.max(1.0),
            "{compile:?}: {diff} of {scale}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    for (args, needle) in [
        (
            vec!["--model", "tiny-transformer"],
            "use --compile torchscript or frozen",
        ),
        (
            vec!["--model", "resnet18", "--compile", "torchscript"],
            "not a text model",
        ),
        (
            vec![
                "--model",
                "tiny-transformer",
                "--compile",
                "torchscript",
                "--device",
                "cuda",
            ],
            "CPU only",
        ),
    ] {
        let mut all = vec![
            "run",
            "-q",
            "--iters",
            "5",
            "--quantize",
            "dynamic-int8",
            "--out",
            s(&out),
        ];
        all.extend(args);
        common::refused(&all, needle);
    }
    assert_eq!(common::lines(&out), 0);
}
