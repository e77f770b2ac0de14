//! The one parser for each kind of value that flags, TOML files and environment
//! variables share: durations, percentiles, batching policies, and suites (sweep
//! files read for criterion). Edge cases here are the ones users type.

use std::time::Duration;

use inferbench::config::BatchPolicy;
use inferbench::config::{parse_duration, parse_duration_us, parse_spin_wait};
use inferbench::measure::{Suite, SuiteChoice, PROFILES};
use inferbench::percentile::Percentile;
use inferbench::sweep::spec::SweepSpec;

fn ok(text: &str) -> Duration {
    parse_duration("d", text).unwrap_or_else(|e| panic!("'{text}': {e}"))
}

fn refused(text: &str) -> String {
    match parse_duration("batch-timeout", text) {
        Ok(d) => panic!("'{text}' parsed as {d:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn durations_accept_every_unit_spelling() {
    assert_eq!(ok("100ns"), Duration::from_nanos(100));
    assert_eq!(ok("500us"), Duration::from_micros(500));
    assert_eq!(ok("500µs"), Duration::from_micros(500));
    assert_eq!(ok("2ms"), Duration::from_millis(2));
    assert_eq!(ok("1.5ms"), Duration::from_micros(1500));
    assert_eq!(ok("1.5s"), Duration::from_millis(1500));
    assert_eq!(ok("3s"), Duration::from_secs(3));
    assert_eq!(ok("2min"), Duration::from_secs(120));
    assert_eq!(ok("1m 30s"), Duration::from_secs(90));
    assert_eq!(ok(" 5ms "), Duration::from_millis(5));
    assert_eq!(ok("0ms"), Duration::ZERO);
    // Zero needs no unit: it is the same in all of them.
    assert_eq!(ok("0"), Duration::ZERO);
}

#[test]
fn bad_durations_are_errors_that_name_the_setting_and_never_panic() {
    for text in [
        "", "2", "-1ms", "2parsecs", "ms", "1.5", "fast", "1e3ms", "nan ms", "0.5ns",
    ] {
        let err = refused(text);
        assert!(
            err.contains("batch-timeout") && err.contains(&format!("'{text}'")),
            "{err}"
        );
    }
    // Seconds beyond u64 used to panic in Duration::from_secs_f64.
    let err = refused("100000000000000000000s");
    assert!(err.contains("too large"), "{err}");
    assert!(refused("18446744073709551616ms").contains("too large"));
}

#[test]
fn durations_in_microseconds_refuse_what_the_configuration_cannot_store() {
    assert_eq!(parse_duration_us("d", "2ms").unwrap(), 2000);
    assert_eq!(parse_duration_us("d", "1500ns").unwrap(), 1);
    // Fits a Duration (u64 seconds) but not u64 microseconds.
    let err = parse_duration_us("spin-wait", "600000years")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spin-wait") && err.contains("too long"),
        "{err}"
    );
}

#[test]
fn batching_policies_come_from_a_limit_and_a_timeout() {
    assert_eq!(
        BatchPolicy::from_limits(None, "5ms").unwrap(),
        BatchPolicy::None
    );
    // 0 is how a sweep's list says "no batcher"; the flag reads it the same way.
    assert_eq!(
        BatchPolicy::from_limits(Some(0), "5ms").unwrap(),
        BatchPolicy::None
    );
    assert_eq!(
        BatchPolicy::from_limits(Some(8), "2.5ms").unwrap(),
        BatchPolicy::Dynamic {
            max_batch_samples: 8,
            timeout_us: 2500
        }
    );
    assert_eq!(
        BatchPolicy::from_limits(Some(8), "250µs").unwrap(),
        BatchPolicy::Dynamic {
            max_batch_samples: 8,
            timeout_us: 250
        }
    );
    // A typo in the timeout is refused even when batching is off: never ignored.
    for max in [None, Some(0), Some(8)] {
        let typo = BatchPolicy::from_limits(max, "5 mx")
            .unwrap_err()
            .to_string();
        assert!(
            typo.contains("batch-timeout") && typo.contains("5 mx"),
            "{typo}"
        );
    }
    let huge = BatchPolicy::from_limits(Some(8), "100000000000000000000s")
        .unwrap_err()
        .to_string();
    assert!(huge.contains("batch-timeout"), "{huge}");
}

#[test]
fn spin_wait_is_zero_or_a_duration() {
    assert_eq!(parse_spin_wait("0").unwrap(), 0);
    assert_eq!(parse_spin_wait("10ms").unwrap(), 10_000);
    let err = parse_spin_wait("soon").unwrap_err().to_string();
    assert!(err.contains("spin-wait") && err.contains("'soon'"), "{err}");
}

#[test]
fn percentiles_read_the_same_from_toml_as_from_text() {
    for p in Percentile::ALL {
        let toml = format!("[criterion]\npercentile = \"{}\"\n", p.name());
        let spec = SweepSpec::from_toml(&toml, "test", None).unwrap();
        assert_eq!(spec.criterion.percentile, p);
        assert_eq!(p.name().parse::<Percentile>().unwrap(), p);
    }
    let err = SweepSpec::from_toml("[criterion]\npercentile = \"p98\"\n", "mine.toml", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mine.toml") && err.contains("p98") && err.contains("p99.9"),
        "{err}"
    );
}

/// The committed baselines in criterion-baselines/default/ are compared by these
/// ids: the default profile must keep producing exactly them, in this order.
#[test]
fn the_default_profile_keeps_its_benchmark_ids() {
    let suite = Suite::profile("default").unwrap();
    let ids: Vec<String> = suite.configs.iter().map(|c| c.id()).collect();
    let mut want = Vec::new();
    for bs in [1, 4] {
        for compile in ["eager", "torchscript"] {
            for w in [1, 2] {
                for streams in ["shared", "dedicated"] {
                    want.push(format!("resnet18-32px/bs{bs}/{compile}/w{w}/{streams}"));
                }
            }
        }
    }
    assert_eq!(ids, want);
    assert_eq!(suite.spec.criterion.samples, 10);
    assert_eq!(suite.spec.criterion.requests_per_sample, 16);
    assert_eq!(suite.percentile, Percentile::P99);
    assert!(suite
        .configs
        .iter()
        .all(|c| c.load.num_iters == 16 && !c.measure_bare_forward));
}

#[test]
fn every_built_in_profile_parses_and_has_its_size() {
    let sizes: Vec<(&str, usize)> = PROFILES
        .iter()
        .map(|(name, _)| (*name, Suite::profile(name).unwrap().configs.len()))
        .collect();
    assert_eq!(
        sizes,
        [
            ("default", 16),
            ("full", 80),
            ("ci", 1),
            ("gpu", 32),
            ("gpu-full", 160)
        ]
    );
    let gpu = Suite::profile("gpu").unwrap().configs;
    assert!(gpu.iter().all(|c| c.backend.device.is_cuda()));
    assert!(gpu.iter().any(|c| c.id().ends_with("/fp16/cuda:0")));
    // The files in benches/suites are what is compiled in.
    for (name, text) in PROFILES {
        let path = format!("{}/benches/suites/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(std::fs::read_to_string(path).unwrap(), text);
    }
}

#[test]
fn the_environment_chooses_one_suite_and_refuses_unknown_values() {
    let choice = |profile: Option<&str>, percentile: Option<&str>| SuiteChoice {
        profile: profile.map(Into::into),
        file: None,
        percentile: percentile.map(Into::into),
    };
    assert_eq!(choice(None, None).load().unwrap().spec.name, "default");
    assert_eq!(choice(Some("ci"), None).load().unwrap().spec.name, "ci");
    assert_eq!(
        choice(None, Some("p90")).load().unwrap().percentile,
        Percentile::P90
    );
    for bad in ["nope", "Default", "ful"] {
        let err = choice(Some(bad), None).load().unwrap_err().to_string();
        assert!(
            err.contains("INFERBENCH_PROFILE") && err.contains("default, full, ci"),
            "{err}"
        );
    }
    let err = choice(None, Some("p42")).load().unwrap_err().to_string();
    assert!(
        err.contains("INFERBENCH_PERCENTILE") && err.contains("p99.9"),
        "{err}"
    );
    let both = SuiteChoice {
        file: Some("mine.toml".into()),
        ..choice(Some("ci"), None)
    };
    assert!(both.load().unwrap_err().to_string().contains("both set"));
}

#[test]
fn a_suite_file_is_a_sweep_file_with_criterion_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(
        &path,
        "model = \"spin:1ms\"\nbatch_sizes = [1, 8]\ncompile = [\"eager\"]\nworkers = [2]\n\
         max_batch_size = [0, 16]\nbatch_timeout = \"500µs\"\n\
         [criterion]\nsamples = 20\nrequests_per_sample = 32\n",
    )
    .unwrap();
    let suite = Suite::from_file(&path).unwrap();
    assert_eq!(suite.spec.name, "mine");
    assert_eq!(suite.configs.len(), 4);
    assert_eq!(suite.spec.criterion.samples, 20);
    assert!(suite.configs.iter().all(|c| c.load.num_iters == 32));
    assert_eq!(
        suite.configs[1].id(),
        "spin:1ms-32px/bs1/eager/w2/shared/dyn16@500us/concurrency:2"
    );
    // The same file is a valid sweep: `inferbench sweep --config` reads it too.
    assert_eq!(
        SweepSpec::from_toml_file(&path)
            .unwrap()
            .expand()
            .unwrap()
            .len(),
        4
    );

    std::fs::write(&path, "model = \"resnet1000\"\n").unwrap();
    let err = Suite::from_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("resnet1000") && err.contains("resnet18"),
        "{err}"
    );

    std::fs::write(&path, "[criterion]\nsamples = 20\nwarmup = 3\n").unwrap();
    let err = Suite::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("warmup") && err.contains("mine.toml"), "{err}");
}
