//! Tests of model preparation: precisions, compile modes and their errors.

use super::super::trace::example_input;
use super::*;
use crate::config::Precision;
use tch::{Kind, Tensor};

fn tiny(precision: Precision, compile: CompileMode) -> ModelConfig {
    ModelConfig {
        name: "tiny-cnn".into(),
        image_size: 16,
        compile,
        precision,
        ..ModelConfig::default()
    }
}

#[test]
fn weights_and_outputs_are_in_the_configured_precision() {
    for precision in [Precision::Fp16, Precision::Bf16] {
        for compile in [CompileMode::Eager, CompileMode::Torchscript] {
            let cfg = tiny(precision, compile);
            let model = prepare(&cfg, Batches::fixed(2), 0, tch::Device::Cpu, &mut |_| {}).unwrap();
            let input = example_input(2, &cfg, tch::Device::Cpu).unwrap();
            let output = model.instance().unwrap().forward(&[input]).unwrap();
            assert_eq!(output.kind(), precision.kind(), "{precision:?} {compile:?}");
            assert_eq!(output.size()[0], 2);
        }
    }
}

#[test]
fn a_precision_the_kernels_lack_is_an_error_naming_it() {
    let refusing = tch::nn::func_t(|x, _| {
        if x.kind() == Kind::Half {
            panic!("\"slow_conv2d_cpu\" not implemented for 'Half'\nbacktrace");
        }
        x.shallow_clone()
    });
    let err = check_precision(
        &refusing,
        &tiny(Precision::Fp16, CompileMode::Eager),
        tch::Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("precision")
            && err.contains("fp16 is not supported")
            && err.contains("not implemented for 'Half'")
            && !err.contains("backtrace"),
        "{err}"
    );
    check_precision(
        &refusing,
        &tiny(Precision::Bf16, CompileMode::Eager),
        tch::Device::Cpu,
    )
    .unwrap();
}

#[test]
fn a_frozen_trace_answers_as_the_eager_model_does() {
    let _guard = tch::no_grad_guard();
    let prepared = |compile| {
        let cfg = tiny(Precision::Fp32, compile);
        prepare(&cfg, Batches::fixed(3), 0, tch::Device::Cpu, &mut |_| {}).unwrap()
    };
    let (eager, frozen) = (prepared(CompileMode::Eager), prepared(CompileMode::Frozen));
    assert!(frozen.compile_time.is_some());
    let input = crate::model::seeded(5, || {
        Tensor::randn([3, 3, 16, 16], (Kind::Float, tch::Device::Cpu))
    });
    let want = eager
        .instance()
        .unwrap()
        .forward(&[input.shallow_clone()])
        .unwrap();
    let got = frozen.instance().unwrap().forward(&[input]).unwrap();
    assert_eq!(got.size(), [3, 10]);
    let diff = (got - want).abs().max().double_value(&[]);
    assert!(diff < 1e-4, "{diff}");
}

/// The largest difference between `compile`'s response and eager's, on `input`.
fn against_eager(cfg: ModelConfig, compile: CompileMode, input: &Tensor) -> f64 {
    let _guard = tch::no_grad_guard();
    let batch = Batches::fixed(input.size()[0] as u32);
    let run = |cfg: &ModelConfig| {
        let model = prepare(cfg, batch, 0, tch::Device::Cpu, &mut |_| {}).unwrap();
        let out = model
            .instance()
            .unwrap()
            .forward(&[input.shallow_clone()])
            .unwrap();
        (model, out)
    };
    let (_, want) = run(&ModelConfig {
        compile: CompileMode::Eager,
        ..cfg.clone()
    });
    let (_, got) = run(&ModelConfig { compile, ..cfg });
    assert_eq!(got.size(), want.size());
    (got - want).abs().max().double_value(&[])
}

#[test]
fn the_seeds_models_answer_alike_in_every_traced_mode() {
    let mobilenet = ModelConfig {
        name: "mobilenet_v3_small".into(),
        image_size: 32,
        ..ModelConfig::default()
    };
    let transformer = ModelConfig {
        name: "tiny-transformer".into(),
        inputs: vec!["8:i64:0..30522".parse().unwrap()],
        ..ModelConfig::default()
    };
    let image = crate::model::seeded(1, || {
        Tensor::randn([2, 3, 32, 32], (Kind::Float, tch::Device::Cpu))
    });
    let ids = crate::model::seeded(1, || {
        Tensor::randint(30522, [2, 8], (Kind::Int64, tch::Device::Cpu))
    });
    for compile in [CompileMode::Torchscript, CompileMode::Frozen] {
        let d = against_eager(mobilenet.clone(), compile, &image);
        assert!(d < 1e-4, "mobilenet {compile:?}: {d}");
        let d = against_eager(transformer.clone(), compile, &ids);
        assert!(d < 1e-4, "transformer {compile:?}: {d}");
    }
}

#[test]
fn channels_last_weights_and_buffers_give_the_same_answers() {
    let _guard = tch::no_grad_guard();
    let image = crate::model::seeded(2, || {
        Tensor::randn([2, 3, 16, 16], (Kind::Float, tch::Device::Cpu))
    });
    for compile in [CompileMode::Eager, CompileMode::Torchscript] {
        let plain = tiny(Precision::Fp32, compile);
        let nhwc = ModelConfig {
            channels_last: true,
            ..plain.clone()
        };
        let answer = |cfg: &ModelConfig| {
            let model = prepare(cfg, Batches::fixed(2), 0, tch::Device::Cpu, &mut |_| {}).unwrap();
            let input = model.lay_out(image.shallow_clone()).unwrap();
            assert_eq!(crate::model::is_channels_last(&input), cfg.channels_last);
            model.instance().unwrap().forward(&[input]).unwrap()
        };
        let diff = (answer(&nhwc) - answer(&plain))
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-5, "{compile:?}: {diff}");
    }
    // The eager instance's convolution weights are channels-last themselves.
    let nhwc = ModelConfig {
        channels_last: true,
        ..tiny(Precision::Fp32, CompileMode::Eager)
    };
    let model = prepare(&nhwc, Batches::fixed(2), 0, tch::Device::Cpu, &mut |_| {}).unwrap();
    let Prepared::Eager { master, .. } = &model.prepared else {
        panic!("an eager model");
    };
    let conv = &master.variables()["conv.weight"];
    assert!(crate::model::is_channels_last(conv), "{:?}", conv.stride());
}

/// Where a GPU is: every compile mode of a built-in model answers as eager does on
/// it, CUDA graphs included, and a graph pads a batch below its captured size. On
/// the CPU: cuda-graph is refused by name before anything is built.
#[test]
fn on_a_gpu_every_compile_mode_answers_as_eager() {
    let device = tch::Device::Cuda(0);
    if !tch::Cuda::is_available() {
        let err = prepare(
            &tiny(Precision::Fp32, CompileMode::CudaGraph),
            Batches::fixed(2),
            0,
            tch::Device::Cpu,
            &mut |_| {},
        )
        .err()
        .expect("cuda-graph on the CPU is refused")
        .to_string();
        assert!(err.contains("cuda-graph needs a CUDA device"), "{err}");
        return;
    }
    let _guard = tch::no_grad_guard();
    let input = crate::model::seeded(5, || Tensor::randn([3, 3, 16, 16], (Kind::Float, device)));
    // Batches of up to 4: the graph of 4 answers a batch of 3 with a row of padding.
    let answer = |compile| {
        let cfg = tiny(Precision::Fp32, compile);
        let batches = Batches { example: 3, max: 4 };
        let model = prepare(&cfg, batches, 0, device, &mut |_| {}).unwrap();
        let out = model.instance().unwrap().forward(&[input.shallow_clone()]);
        (model, out.unwrap().to(tch::Device::Cpu))
    };
    let (_, want) = answer(CompileMode::Eager);
    for compile in [
        CompileMode::Torchscript,
        CompileMode::Frozen,
        CompileMode::CudaGraph,
    ] {
        let (model, got) = answer(compile);
        assert_eq!(got.size(), [3, 10], "{compile:?}");
        let diff = (got - &want).abs().max().double_value(&[]);
        assert!(diff < 1e-3, "{compile:?}: {diff}");
        if compile == CompileMode::CudaGraph {
            let facts = model.report_info().cuda_graph.expect("graph facts");
            assert_eq!(facts.sizes, vec![1, 2, 4]);
            assert_eq!((facts.samples, facts.padded_samples), (3, 1));
            assert!(
                model.compile_time_s().is_some(),
                "capture is the compile time"
            );
        }
    }
}
