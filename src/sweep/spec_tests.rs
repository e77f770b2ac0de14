//! Tests of the sweep grid: presets, TOML files, axes and the errors of bad files.

use super::*;

#[test]
fn the_seed_preset_is_the_runner_grid() {
    let configs = SweepSpec::seed().expand().unwrap();
    assert_eq!(configs.len(), 10);
    let batches: Vec<u32> = configs.iter().map(|c| c.load.batch_size).collect();
    assert_eq!(batches, [1, 1, 32, 32, 64, 64, 128, 128, 256, 256]);
    assert!(configs.iter().all(|c| c.model.image_size == 224));
}

#[test]
fn a_toml_file_overrides_the_defaults_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.toml");
    std::fs::write(
        &path,
        "model = \"spin:1ms\"\nbatch_sizes = [2]\ncompile = [\"eager\"]\nworkers = [1, 3]\nmax_batch_size = [0, 8]\nrepeats = 2\n",
    )
    .unwrap();
    let spec = SweepSpec::from_toml_file(&path).unwrap();
    assert_eq!(spec.name, "tiny");
    let configs = spec.expand().unwrap();
    assert_eq!(configs.len(), 4);
    assert_eq!(
        configs[1].backend.batching,
        BatchPolicy::Dynamic {
            max_batch_samples: 8,
            timeout_us: 5000
        }
    );
    assert_eq!(configs[3].backend.workers, 3);
    assert_eq!(spec.repeats, 2);
}

#[test]
fn devices_and_precisions_are_axes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.toml");
    std::fs::write(
        &path,
        "batch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [1]\ndevices = [\"cpu\", \"cuda:1\"]\nprecisions = [\"fp32\", \"fp16\"]\n",
    )
    .unwrap();
    let configs = SweepSpec::from_toml_file(&path).unwrap().expand().unwrap();
    let points: Vec<_> = configs
        .iter()
        .map(|c| (c.backend.device, c.model.precision))
        .collect();
    assert_eq!(
        points,
        [
            (DeviceSpec::Cpu, Precision::Fp32),
            (DeviceSpec::Cpu, Precision::Fp16),
            (DeviceSpec::Cuda(1), Precision::Fp32),
            (DeviceSpec::Cuda(1), Precision::Fp16),
        ]
    );
    std::fs::write(&path, "devices = [\"gpu0\"]\n").unwrap();
    let err = SweepSpec::from_toml_file(&path).unwrap_err().to_string();
    assert!(err.contains("gpu0") && err.contains("cuda:N"), "{err}");
}

#[test]
fn bad_sweeps_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "batch_size = [1]\n").unwrap();
    let err = SweepSpec::from_toml_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("batch_size") && err.contains("bad.toml"),
        "{err}"
    );

    let zero = SweepSpec {
        batch_sizes: vec![4, 0],
        ..SweepSpec::quick()
    };
    assert!(zero
        .expand()
        .unwrap_err()
        .to_string()
        .contains("batch-size"));
    let empty = SweepSpec {
        workers: vec![],
        ..SweepSpec::quick()
    };
    assert!(empty.expand().unwrap_err().to_string().contains("workers"));
    let arrival = SweepSpec {
        arrivals: vec!["sometimes".into()],
        ..SweepSpec::quick()
    };
    assert!(arrival
        .expand()
        .unwrap_err()
        .to_string()
        .contains("sometimes"));
    let timeout = SweepSpec {
        max_batch_size: vec![0],
        batch_timeout: "soon".into(),
        ..SweepSpec::quick()
    };
    let err = timeout.expand().unwrap_err().to_string();
    assert!(
        err.contains("batch-timeout") && err.contains("soon"),
        "{err}"
    );
    assert!(SweepSpec::preset("huge")
        .unwrap_err()
        .to_string()
        .contains("quick"));
}

#[test]
fn a_model_file_sweep_carries_its_inputs_and_defaults_to_the_file_as_saved() {
    let text = "model = \"torchscript:m.pt\"\ninputs = [\"16:i64:0..100\", \"16:i64:0..2\"]\nbatch_sizes = [1]\nworkers = [1]\n";
    let configs = SweepSpec::from_toml(text, "m.toml", None)
        .unwrap()
        .expand()
        .unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].model.compile, CompileMode::Torchscript);
    assert_eq!(configs[0].model.inputs[1].to_string(), "16:i64:0..2");
    assert_eq!(
        configs[0].id(),
        "torchscript:m.pt-16:i64:0..100+16:i64:0..2/bs1/torchscript/w1/shared/concurrency:2"
    );
    let eager = format!("{text}compile = [\"eager\", \"frozen\"]\n");
    let err = SweepSpec::from_toml(&eager, "m.toml", None)
        .unwrap()
        .expand()
        .unwrap_err()
        .to_string();
    assert!(err.contains("already compiled"), "{err}");
}

#[test]
fn intra_op_threads_is_one_value_or_an_axis() {
    let base = "batch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [1]\n";
    let threads = |extra: &str| -> Vec<Option<u32>> {
        SweepSpec::from_toml(&format!("{base}{extra}"), "t.toml", None)
            .unwrap()
            .expand()
            .unwrap()
            .iter()
            .map(|c| c.backend.intra_op_threads)
            .collect()
    };
    assert_eq!(threads(""), [None]);
    assert_eq!(threads("intra_op_threads = 2\n"), [Some(2)]);
    assert_eq!(threads("intra_op_threads = [1, 2]\n"), [Some(1), Some(2)]);
    let configs = SweepSpec::from_toml(&format!("{base}intra_op_threads = [1, 2]\n"), "t", None)
        .unwrap()
        .expand()
        .unwrap();
    assert_ne!(configs[0].id(), configs[1].id());
    assert!(configs[1].id().contains("/t2"), "{}", configs[1].id());
}
