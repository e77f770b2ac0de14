//! Results files survive full disks and odd paths, gates do not pass by accident,
//! and bad input gets a clear error: the CLI on each case the hardening issue found.

use crate::common;
use std::io::Write;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::copy_tree;

fn inferbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(args)
        .env_remove("CRITERION_HOME")
        .output()
        .expect("run the inferbench binary")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn spin_run(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "-q",
        "--model",
        "spin:1ms",
        "--iters",
        "5",
        "--no-bare",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    inferbench(&args)
}

fn parsed_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line parses");
    }
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the file ends with a whole line"
    );
    text.lines().count()
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` (and a message) where mounting is not permitted: not root, or a container.
    fn mount(at: PathBuf, size: &str) -> Option<Self> {
        std::fs::create_dir_all(&at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                s(&at),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(Self(at))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_only_whole_lines_and_the_next_run_appends_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(dir.path().join("disk"), "8k") else {
        eprintln!(
            "skipped: mounting a tmpfs is not permitted here (needs root outside a container)"
        );
        return;
    };
    let out = disk.0.join("runs.jsonl");
    // One 3500-byte line: its page has ~600 bytes left, less than a run's line.
    let pad = "x".repeat(3500 - 12);
    std::fs::write(&out, format!("{{\"pad\":\"{pad}\"}}\n")).unwrap();
    let before = std::fs::read(&out).unwrap();
    let mut filler = std::fs::File::create(disk.0.join("filler")).unwrap();
    while filler.write_all(&[0u8; 512]).is_ok() {}
    drop(filler);

    let full = spin_run(&out, &[]);
    assert_eq!(full.status.code(), Some(1));
    assert!(
        stderr(&full).contains("runs.jsonl") && stderr(&full).contains("No space"),
        "{}",
        stderr(&full)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "the half-written line was cut off"
    );

    std::fs::remove_file(disk.0.join("filler")).unwrap();
    assert!(spin_run(&out, &[]).status.success());
    assert_eq!(parsed_lines(&out), 2);
}

#[test]
fn a_run_that_fails_before_measuring_leaves_no_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let failed = inferbench(&[
        "run",
        "-q",
        "--model",
        "fail:spin:1ms@1",
        "--iters",
        "5",
        "--no-bare",
        "--out",
        s(&out),
    ]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stderr(&failed).contains("during the warm-up")
            || stderr(&failed).contains("injected fault")
    );
    assert!(!out.exists());
}

#[test]
fn the_trace_writes_through_a_link_and_into_a_device_without_replacing_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let real = dir.path().join("real.jsonl");
    let link = dir.path().join("trace.jsonl");
    std::fs::write(&real, "").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(spin_run(&out, &["--trace", s(&link)]).status.success());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        parsed_lines(&real),
        5,
        "one line per measured request, through the link"
    );

    use std::os::unix::fs::FileTypeExt;
    let full = spin_run(&out, &["--trace", "/dev/full"]);
    assert_eq!(full.status.code(), Some(1));
    assert!(stderr(&full).contains("/dev/full"), "{}", stderr(&full));
    let dev = std::fs::symlink_metadata("/dev/full").unwrap();
    assert!(
        dev.file_type().is_char_device(),
        "/dev/full is still a device"
    );
    assert!(!Path::new("/dev/full.partial").exists());
    assert_eq!(
        parsed_lines(&out),
        1,
        "the failed trace run appended nothing"
    );
}

#[test]
fn clear_errors_for_small_images_conflicting_flags_and_libtorch_failures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let tiny = inferbench(&[
        "run",
        "-q",
        "--model",
        "resnet18",
        "--image-size",
        "1",
        "--out",
        s(&out),
    ]);
    assert_eq!(tiny.status.code(), Some(1));
    assert!(
        stderr(&tiny).contains("image-size") && stderr(&tiny).contains("8 px"),
        "{}",
        stderr(&tiny)
    );

    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny-cnn");
    let both = inferbench(&[
        "run",
        "--model",
        "resnet18",
        "--model-dir",
        s(&fixture),
        "--out",
        s(&out),
    ]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("--model-dir") && stderr(&both).contains("cannot be used with"));

    // 768 GiB of input per request: refused by name before anything is allocated.
    let request = inferbench(&[
        "run",
        "-q",
        "--model",
        "tiny-cnn",
        "--batch-size",
        "4096",
        "--image-size",
        "4096",
        "--iters",
        "1",
        "--no-bare",
        "--out",
        s(&out),
    ]);
    assert_eq!(request.status.code(), Some(1));
    assert!(
        stderr(&request).contains("768.0 GiB"),
        "{}",
        stderr(&request)
    );

    // A small request, but device buffers for 4096 of them (824 GB): libtorch's
    // allocation error, with its C++ frames only under -v.
    let huge = [
        "run",
        "-q",
        "--model",
        "tiny-cnn",
        "--image-size",
        "4096",
        "--max-batch-size",
        "4096",
        "--iters",
        "1",
        "--no-bare",
        "--out",
        s(&out),
    ];
    let short = inferbench(&huge);
    assert_eq!(short.status.code(), Some(1));
    let text = stderr(&short);
    assert!(
        text.contains("can't allocate memory") && !text.contains("frame #"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    let verbose = inferbench(&[&["-v"][..], &huge[..]].concat());
    assert!(stderr(&verbose).contains("frame #"));
    assert!(!out.exists());
}

#[test]
fn init_model_refuses_to_replace_another_checkpoint_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let init = |model: &str, extra: &[&str]| {
        inferbench(
            &[
                &["init-model", "--model", model, "--out", s(&ckpt)][..],
                extra,
            ]
            .concat(),
        )
    };
    assert!(init("tiny-cnn", &[]).status.success());
    assert!(
        init("tiny-cnn", &[]).status.success(),
        "the same checkpoint again is fine"
    );
    let refused = init("resnet18", &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("tiny-cnn") && stderr(&refused).contains("--force"));
    let meta = || std::fs::read_to_string(ckpt.join("model.json")).unwrap();
    assert!(meta().contains("tiny-cnn"), "left as it was");
    assert!(init("resnet18", &["--force"]).status.success());
    assert!(meta().contains("resnet18"));
}

fn criterion_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/criterion")
}

#[test]
fn compare_fails_with_exit_2_on_a_missing_baseline_or_nothing_shared() {
    let typo = inferbench(&[
        "compare",
        "--criterion-dir",
        s(&criterion_fixture()),
        "--baseline",
        "comitted",
    ]);
    assert_eq!(typo.status.code(), Some(2));
    let err = stderr(&typo);
    assert!(
        err.contains("'comitted'") && err.contains("saved baselines there: committed"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    copy_tree(&criterion_fixture(), dir.path());
    for bench in ["cpu-util", "p99", "time"] {
        let new = dir
            .path()
            .join("resnet18-32px_bs1_eager_w1_shared")
            .join(bench)
            .join("new");
        std::fs::remove_dir_all(new).unwrap();
    }
    let unshared = inferbench(&["compare", "--criterion-dir", s(dir.path())]);
    assert_eq!(unshared.status.code(), Some(2));
    assert!(
        stderr(&unshared).contains("shares no benchmark"),
        "{}",
        stderr(&unshared)
    );
}

#[test]
fn merge_baselines_checks_every_input_before_writing_and_never_into_a_source() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&criterion_fixture(), dir.path());
    let p99 = dir.path().join("resnet18-32px_bs1_eager_w1_shared/p99");
    for run in ["run1", "run2", "run3"] {
        copy_tree(&p99.join("committed"), &p99.join(run));
    }
    let merge = |into: &str| {
        inferbench(&[
            "merge-baselines",
            "--criterion-dir",
            s(dir.path()),
            "--runs",
            "run1,run2,run3",
            "--into",
            into,
        ])
    };
    let into_source = merge("run2");
    assert_eq!(into_source.status.code(), Some(1));
    assert!(
        stderr(&into_source).contains("one of the runs"),
        "{}",
        stderr(&into_source)
    );

    let committed = std::fs::read(p99.join("committed/estimates.json")).unwrap();
    for run in ["run1", "run2", "run3"] {
        std::fs::write(p99.join(run).join("sample.json"), "{\"sampling_mode\":").unwrap();
    }
    let corrupt = merge("committed");
    assert_eq!(corrupt.status.code(), Some(1));
    assert!(
        stderr(&corrupt).contains("sample.json")
            && stderr(&corrupt).contains("nothing was written")
    );
    assert_eq!(
        std::fs::read(p99.join("committed/estimates.json")).unwrap(),
        committed
    );
    assert!(!p99.join("committed/spread.json").exists());
}
