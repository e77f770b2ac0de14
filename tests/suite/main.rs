//! The integration tests, as one test binary: each file here is what was a
//! binary of its own (run one with `cargo test --release --test suite -- NAME::`).
//! One binary links the crate and libtorch once instead of once per file, which
//! was most of a fresh build of the tests. Kept apart: `docs.rs` (the documentation
//! check, run by name), `device_cli.rs` (built again with `--features cuda` and
//! shipped in the GPU bundle) and `aot_inductor.rs` (it sets process-wide
//! environment variables).

#[path = "../common/mod.rs"]
mod common;

mod ab;
mod aoti_export;
mod append_kill;
mod bench_suite;
mod cli;
mod cli_shards;
mod cli_sweep;
mod cli_tune;
mod compare;
mod end_to_end;
mod faults;
mod first_error;
mod flags_by_model;
mod hardening;
mod hung_threads;
mod iai_gate;
mod launcher;
mod layers;
mod limits;
mod llm;
mod llm_ab;
mod llm_report;
mod llm_server;
mod model_files;
mod open_loop_theory;
mod outputs;
mod oversubscription;
mod parsers;
mod report;
mod serve;
mod spin_calibration;
mod target;
mod wake_up_theory;
