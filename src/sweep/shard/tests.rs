//! Properties of the partition on grids of several shapes and 1 to 8 shards, and the
//! parsing of `--shard`, `--shards` and `JOB_COMPLETION_INDEX`.

use std::path::Path;

use super::*;
use crate::config::CompileMode;
use crate::sweep::spec::SweepSpec;

/// Grids of different shapes: the seed's (bs 1-256 at 224 px), one with many equal
/// points, a single point, and a lopsided one where one configuration dwarfs the rest.
fn grids() -> Vec<(&'static str, SweepSpec)> {
    let quick = SweepSpec::quick();
    vec![
        ("seed", SweepSpec::seed()),
        ("quick", quick.clone()),
        (
            "flat",
            SweepSpec {
                batch_sizes: vec![4],
                workers: vec![1, 2, 3, 4, 5, 6],
                max_batch_size: vec![0, 8, 16],
                ..quick.clone()
            },
        ),
        (
            "single",
            SweepSpec {
                batch_sizes: vec![1],
                compile: vec![CompileMode::Eager],
                workers: vec![1],
                ..quick.clone()
            },
        ),
        (
            "lopsided",
            SweepSpec {
                batch_sizes: vec![1, 2, 3, 1024],
                compile: vec![CompileMode::Eager],
                workers: vec![1],
                ..quick
            },
        ),
    ]
}

/// Costs from a fixed linear congruential generator: shapes no grid above has.
fn pseudo_random_costs(n: usize, seed: u64) -> Vec<u128> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            u128::from((x >> 33) % 10_000 + 1)
        })
        .collect()
}

/// Union = all items, shards disjoint, max load ≤ min load + largest item.
fn check_partition(what: &str, costs: &[u128], count: u32) {
    let shards = partition(costs, count);
    assert_eq!(shards.len(), count as usize, "{what}: one list per shard");
    let mut seen = vec![0u32; costs.len()];
    for shard in &shards {
        for &i in shard {
            seen[i] += 1;
        }
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "{what}, {count} shards: each item exactly once, got {seen:?}"
    );
    let loads: Vec<u128> = shards
        .iter()
        .map(|s| s.iter().map(|&i| costs[i]).sum())
        .collect();
    let largest = costs.iter().copied().max().unwrap_or(0);
    let (max, min) = (*loads.iter().max().unwrap(), *loads.iter().min().unwrap());
    assert!(
        max <= min + largest,
        "{what}, {count} shards: loads {loads:?} spread more than the largest item {largest}"
    );
    assert_eq!(partition(costs, count), shards, "{what}: deterministic");
}

#[test]
fn every_grid_splits_into_disjoint_shards_covering_it_with_bounded_spread() {
    for (name, spec) in grids() {
        let configs = spec.expand().unwrap();
        let costs: Vec<u128> = configs.iter().map(|c| cost(c, spec.repeats)).collect();
        for count in 1..=8 {
            check_partition(name, &costs, count);
            let joined: Vec<usize> = {
                let mut all: Vec<usize> = (0..count)
                    .flat_map(|i| select(&configs, spec.repeats, Shard::new(i, count).unwrap()))
                    .collect();
                all.sort_unstable();
                all
            };
            assert_eq!(joined, (0..configs.len()).collect::<Vec<_>>(), "{name}");
        }
    }
    for (n, seed) in [(1, 1), (7, 2), (23, 3), (64, 4), (100, 5)] {
        let costs = pseudo_random_costs(n, seed);
        for count in 1..=8 {
            check_partition(&format!("{n} random items"), &costs, count);
        }
    }
}

#[test]
fn shards_are_balanced_by_cost_not_by_count() {
    // The seed's grid: bs 1, 32, 64, 128, 256 × 2 compile modes. By count, 2 shards
    // would get 5 points each; by cost, the two bs-256 points go to different shards.
    let spec = SweepSpec::seed();
    let configs = spec.expand().unwrap();
    let costs: Vec<u128> = configs.iter().map(|c| cost(c, spec.repeats)).collect();
    let shards = partition(&costs, 2);
    let loads: Vec<u128> = shards
        .iter()
        .map(|s| s.iter().map(|&i| costs[i]).sum())
        .collect();
    assert_eq!(loads[0], loads[1], "{shards:?}");
    assert!(
        shards[0].contains(&8) != shards[0].contains(&9),
        "{shards:?}"
    );
    let shares = cost_shares(&configs, spec.repeats, 4);
    assert!(
        (shares.iter().sum::<f64>() - 1.0).abs() < 1e-12,
        "{shares:?}"
    );
    // Two bs-256 points of 962 units: 4 machines still take 256/962 of the time.
    let largest = shares.iter().copied().fold(0.0, f64::max);
    assert!((largest - 256.0 / 962.0).abs() < 1e-12, "{shares:?}");
    // LPT on 1024, 3, 2, 1 over 2 shards: the big one alone.
    assert_eq!(partition(&[1, 2, 3, 1024], 2), vec![vec![3], vec![0, 1, 2]]);
    // More shards than items: the extra shards are empty, none is dropped.
    assert_eq!(partition(&[5, 5], 3), vec![vec![0], vec![1], vec![]]);
}

#[test]
fn the_cost_grows_with_batch_pixels_requests_and_repeats() {
    let configs = SweepSpec::seed().expand().unwrap();
    let (bs1, bs256) = (&configs[0], &configs[8]);
    assert_eq!(cost(bs1, 3), 224 * 224 * 100 * 3);
    assert_eq!(cost(bs256, 3), 256 * cost(bs1, 3));
    assert_eq!(cost(bs1, 6), 2 * cost(bs1, 3));
}

#[test]
fn the_spec_hash_changes_with_the_grid_and_nothing_else() {
    let spec = SweepSpec::quick();
    let configs = spec.expand().unwrap();
    let hash = spec_hash(&spec.name, spec.repeats, &configs);
    assert_eq!(hash.len(), 16);
    assert_eq!(hash, spec_hash(&spec.name, spec.repeats, &configs));
    let respelled = SweepSpec {
        batch_timeout: "5000us".into(),
        max_batch_size: vec![0, 8],
        ..spec.clone()
    };
    let five_ms = SweepSpec {
        max_batch_size: vec![0, 8],
        ..spec.clone()
    };
    assert_eq!(
        spec_hash(&spec.name, 3, &respelled.expand().unwrap()),
        spec_hash(&spec.name, 3, &five_ms.expand().unwrap())
    );
    assert_ne!(hash, spec_hash(&spec.name, 4, &configs));
    assert_ne!(hash, spec_hash("other", 3, &configs));
    assert_ne!(hash, spec_hash(&spec.name, 3, &configs[1..]));
}

#[test]
fn shard_flags_and_the_job_index_resolve_or_are_refused_by_name() {
    assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
    assert_eq!(Shard::parse("2/4").unwrap().to_string(), "2/4");
    let msg = |r: Result<Option<Shard>>| r.unwrap_err().to_string();
    let out_of_range = Shard::parse("4/4").unwrap_err().to_string();
    assert!(out_of_range.contains("out of range") && out_of_range.contains("0..=3"));
    assert!(Shard::parse("x/4")
        .unwrap_err()
        .to_string()
        .contains("INDEX/COUNT"));
    assert!(Shard::parse("0/0")
        .unwrap_err()
        .to_string()
        .contains("at least 1"));

    assert_eq!(Shard::resolve(None, None, Some("3")).unwrap(), None);
    assert_eq!(
        Shard::resolve(None, Some(4), Some("3")).unwrap(),
        Some(Shard { index: 3, count: 4 })
    );
    assert_eq!(
        Shard::resolve(Some("1/2"), None, Some("3")).unwrap(),
        Some(Shard { index: 1, count: 2 })
    );
    assert!(msg(Shard::resolve(None, Some(4), Some("4"))).contains("out of range"));
    assert!(msg(Shard::resolve(None, Some(4), None)).contains(JOB_INDEX_VAR));
    assert!(msg(Shard::resolve(None, Some(4), Some("one"))).contains("'one'"));
    assert!(msg(Shard::resolve(Some("0/4"), Some(4), None)).contains("not both"));
    let one = Shard::new(1, 4).unwrap();
    assert_eq!(one.file_name("seed"), "seed-shard-1-of-4.jsonl");
    let (dir, file) = (Path::new("/results/seed"), Path::new("/results/mine.jsonl"));
    let default = Path::new("results/sweeps");
    assert_eq!(
        results_path(Some(dir), default, "seed", one),
        dir.join("seed-shard-1-of-4.jsonl")
    );
    assert_eq!(results_path(Some(file), default, "seed", one), file);
    assert_eq!(
        results_path(None, default, "seed", one),
        default.join("seed-shard-1-of-4.jsonl")
    );
}

#[test]
fn a_shard_writes_into_the_results_folder_and_the_report_reads_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let part = Some(Shard::new(1, 3).unwrap());
    let stale = dir.path().join(Shard::new(1, 3).unwrap().file_name("grid"));
    std::fs::write(&stale, "an earlier attempt\n").unwrap();
    let path = sweep_output(Some(dir.path().to_path_buf()), "grid", part, || {
        panic!("a shard never uses the unsharded default")
    })
    .unwrap();
    assert_eq!(path, stale);
    assert!(!stale.exists(), "a retried shard starts its file afresh");
    assert_eq!(report_input(&path, part), dir.path());
    // A bare file name: the report reads the current folder.
    assert_eq!(report_input(Path::new("x.jsonl"), part), Path::new("."));
}

#[test]
fn a_shard_never_deletes_a_named_file_that_is_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let part = Shard::new(0, 2).unwrap();
    let named = dir.path().join("results.jsonl");
    // A whole sweep's results (or anything else) under the name given to --out.
    std::fs::write(&named, "{\"kind\":\"probe\"}\n").unwrap();
    let err = sweep_output(Some(named.clone()), "grid", Some(part), || unreachable!())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a results file of shard 0/2"), "{err}");
    assert!(named.exists(), "left as it was");
    // An earlier run of the same shard is replaced; another shard's is not.
    let header = |index| {
        let spec = SweepSpec {
            name: "grid".into(),
            ..SweepSpec::quick()
        };
        let (configs, _) = plan(&spec, None).unwrap();
        let s = Shard::new(index, 2).unwrap();
        let env = crate::sweep::record::SweepEnvironment::detect();
        let record =
            crate::sweep::record::Record::Shard(super::header(&spec, &configs, s, &[0], &env));
        serde_json::to_string(&record).unwrap() + "\n"
    };
    std::fs::write(&named, header(1)).unwrap();
    assert!(sweep_output(Some(named.clone()), "grid", Some(part), || unreachable!()).is_err());
    std::fs::write(&named, header(0)).unwrap();
    let path = sweep_output(Some(named.clone()), "grid", Some(part), || unreachable!()).unwrap();
    assert_eq!(path, named);
    assert!(
        !named.exists(),
        "a retried shard starts its own file afresh"
    );
}

#[test]
fn an_unsharded_sweep_writes_where_asked_or_to_the_default() {
    let asked = sweep_output(Some("mine.jsonl".into()), "grid", None, || "d".into()).unwrap();
    assert_eq!(asked, Path::new("mine.jsonl"));
    let default = sweep_output(None, "grid", None, || "default.jsonl".into()).unwrap();
    assert_eq!(default, Path::new("default.jsonl"));
    assert_eq!(report_input(&asked, None), asked);
}

#[test]
fn the_plan_lists_the_chosen_configurations_and_a_shards_cost_share() {
    let spec = SweepSpec::quick();
    let (configs, all) = plan(&spec, None).unwrap();
    let text = render_plan(&spec, &configs, &all, None);
    assert_eq!(text.lines().count(), configs.len() + 1, "{text}");
    assert!(text.contains(&format!(
        "{} configurations × {} repeats = {} runs",
        configs.len(),
        spec.repeats,
        configs.len() * spec.repeats as usize
    )));
    assert!(!text.contains("estimated cost"));
    let part = Shard::new(0, 2).unwrap();
    let (configs, chosen) = plan(&spec, Some(part)).unwrap();
    let text = render_plan(&spec, &configs, &chosen, Some(part));
    assert!(chosen.len() < configs.len());
    assert!(text.contains(&configs[chosen[0]].id()));
    assert!(text.contains("estimated cost"), "{text}");
    assert!(
        text.contains(&format!("(shard {part} of {})", configs.len())),
        "{text}"
    );
}
