//! Tests of model preparation: precisions, compile modes and their errors.

use super::*;
use tch::Kind;

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
