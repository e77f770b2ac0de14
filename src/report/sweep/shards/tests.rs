//! Merging shards: files written the way `inferbench sweep --shard` writes them (a
//! header, then the shard's configurations), built from the fixture's records so that
//! no run is needed, and each way the pieces can fail to fit.

use std::path::{Path, PathBuf};

use super::*;
use crate::report::sweep::read_records;
use crate::sweep::record::ConfigRecord;
use crate::sweep::shard::{self, Shard};
use crate::sweep::spec::SweepSpec;

fn template() -> ConfigRecord {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sweep/known.jsonl");
    read_records(&fixture)
        .unwrap()
        .into_iter()
        .find_map(|r| match r {
            Record::Config(c) => Some(c),
            _ => None,
        })
        .unwrap()
}

/// Eight spin-model configurations (bs 1, 2, 4, 8 × 1-2 workers).
fn spec() -> SweepSpec {
    SweepSpec {
        name: "spin".into(),
        model: "spin:1ms".into(),
        image_size: 8,
        batch_sizes: vec![1, 2, 4, 8],
        compile: vec![crate::config::CompileMode::Eager],
        workers: vec![1, 2],
        ..SweepSpec::quick()
    }
}

/// Shard `index`/`count` of `spec` as a file's records, on a machine with `gpu`.
fn shard_records(spec: &SweepSpec, index: u32, count: u32, gpu: Option<&str>) -> Vec<Record> {
    let s = Shard::new(index, count).unwrap();
    let (configs, chosen) = shard::plan(spec, Some(s)).unwrap();
    let mut env = template().env;
    env.gpu = gpu.map(str::to_string);
    let mut records = vec![Record::Shard(shard::header(
        spec, &configs, s, &chosen, &env,
    ))];
    for i in chosen {
        let mut c = template();
        c.sweep = spec.name.clone();
        c.index = i;
        c.id = configs[i].id();
        c.config = configs[i].clone();
        c.env = env.clone();
        records.push(Record::Config(c));
    }
    records
}

fn write(dir: &Path, name: &str, records: &[Record]) -> PathBuf {
    let path = dir.join(name);
    let lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn all_shards(dir: &Path, count: u32) -> Vec<PathBuf> {
    (0..count)
        .map(|i| {
            write(
                dir,
                &format!("s{i}.jsonl"),
                &shard_records(&spec(), i, count, Some("H100")),
            )
        })
        .collect()
}

fn refused(inputs: &[PathBuf], mixed: bool) -> String {
    load(inputs, mixed).unwrap_err().to_string()
}

#[test]
fn a_folder_of_shards_reads_back_as_the_whole_grid_in_order() {
    let dir = tempfile::tempdir().unwrap();
    all_shards(dir.path(), 3);
    let data = load(&[dir.path().to_path_buf()], false).unwrap();
    let ids: Vec<String> = data.configs.iter().map(|c| c.id.clone()).collect();
    let grid: Vec<String> = spec().expand().unwrap().iter().map(|c| c.id()).collect();
    assert_eq!(ids, grid);
    assert_eq!(data.shards.len(), 3);
    let note = provenance(&data).unwrap();
    assert!(
        note.contains("3 shards") && note.contains("'spin'"),
        "{note}"
    );
}

#[test]
fn shards_of_two_sweeps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = all_shards(dir.path(), 2);
    let other = SweepSpec {
        iters: 100,
        ..spec()
    };
    files[1] = write(
        dir.path(),
        "other.jsonl",
        &shard_records(&other, 1, 2, Some("H100")),
    );
    let err = refused(&files, false);
    assert!(
        err.contains("different sweeps") && err.contains("other.jsonl"),
        "{err}"
    );
    // One sweep cut in 2 and in 3 shards does not fit together either.
    let three = write(
        dir.path(),
        "three.jsonl",
        &shard_records(&spec(), 1, 3, Some("H100")),
    );
    let err = refused(&[files[0].clone(), three], false);
    assert!(
        err.contains("in 2 shards") && err.contains("in 3 shards"),
        "{err}"
    );
}

#[test]
fn a_missing_shard_is_named_with_its_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let files = all_shards(dir.path(), 4);
    let err = refused(
        &[files[0].clone(), files[1].clone(), files[3].clone()],
        false,
    );
    let (_, chosen) = shard::plan(&spec(), Some(Shard::new(2, 4).unwrap())).unwrap();
    let configs = spec().expand().unwrap();
    assert!(err.contains("missing: shard 2/4"), "{err}");
    for i in chosen {
        assert!(err.contains(&configs[i].id()), "{err}");
    }
}

#[test]
fn a_shard_or_a_configuration_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = all_shards(dir.path(), 2);
    let copy = dir.path().join("copy.jsonl");
    std::fs::copy(&files[1], &copy).unwrap();
    files.push(copy);
    let err = refused(&files, false);
    assert!(
        err.contains("shard 1/2 is there twice") && err.contains("copy.jsonl"),
        "{err}"
    );

    let mut records = shard_records(&spec(), 0, 2, Some("H100"));
    records.push(records[1].clone());
    let doubled = write(dir.path(), "s0.jsonl", &records);
    let err = refused(&[doubled, files[1].clone()], false);
    assert!(err.contains("twice") && err.contains("shard 0/2"), "{err}");
}

#[test]
fn a_shard_that_stopped_early_or_holds_foreign_records_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = all_shards(dir.path(), 2);
    let mut records = shard_records(&spec(), 0, 2, Some("H100"));
    let Record::Config(dropped) = records.pop().unwrap() else {
        panic!("the last record is a configuration")
    };
    let short = write(dir.path(), "s0.jsonl", &records);
    let err = refused(&[short, files[1].clone()], false);
    assert!(
        err.contains("incomplete") && err.contains(&dropped.id),
        "{err}"
    );

    let mut records = shard_records(&spec(), 0, 2, Some("H100"));
    records.push(shard_records(&spec(), 1, 2, Some("H100"))[1].clone());
    let foreign = write(dir.path(), "s0.jsonl", &records);
    let err = refused(&[foreign, files[1].clone()], false);
    assert!(err.contains("not this shard's"), "{err}");

    let unsharded = write(dir.path(), "plain.jsonl", &records[1..2]);
    let err = refused(&[files[0].clone(), files[1].clone(), unsharded], false);
    assert!(
        err.contains("without a shard header") && err.contains("plain.jsonl"),
        "{err}"
    );
}

#[test]
fn mixed_gpu_models_are_ranked_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.jsonl",
        &shard_records(&spec(), 0, 2, Some("H100")),
    );
    let b = write(
        dir.path(),
        "b.jsonl",
        &shard_records(&spec(), 1, 2, Some("A100")),
    );
    let err = refused(&[a.clone(), b.clone()], false);
    assert!(
        err.contains("GPU A100") && err.contains("GPU H100") && err.contains("--mixed-hardware"),
        "{err}"
    );
    let data = load(&[a, b], true).unwrap();
    assert_eq!(data.configs.len(), 8);
    assert!(provenance(&data).unwrap().contains("Mixed hardware"));
}

#[test]
fn unsharded_input_reads_as_before() {
    let fixture = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/sweep/known.jsonl"
    ));
    let data = load(std::slice::from_ref(&fixture), false).unwrap();
    assert_eq!(data.configs.len(), 6);
    assert_eq!(provenance(&data), None);
    let empty = tempfile::tempdir().unwrap();
    let err = refused(&[empty.path().to_path_buf()], false);
    assert!(err.contains("no .jsonl"), "{err}");
}
