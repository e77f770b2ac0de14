//! Models the server can run: which architectures exist ([`zoo`]), how weights are
//! written and read ([`checkpoint`]), how the forward is prepared ([`prepare`]; a
//! user's TorchScript file in `file`, TorchScript modules in [`script`], freezing
//! in `jit`, AOTInductor packages in [`aoti`] and [`aoti_export`], CUDA graphs in
//! `graphed`), input values drawn per spec ([`draw`]), the synthetic fixed-time
//! model used to calibrate the harness ([`spin`]), and a wrapper that injects a
//! fault into any of them ([`fault`]).

pub mod aoti;
pub mod aoti_export;
mod check;
pub mod checkpoint;
mod compile;
pub mod draw;
mod export_python;
mod export_weights;
pub mod fault;
mod file;
pub mod flops;
mod forward;
mod graphed;
mod jit;
mod mobilenet;
mod prepare;
mod prepared;
pub mod script;
pub mod spin;
mod trace;
pub mod transformer;
pub mod zoo;

pub use check::{check_grid, check_loads};
pub use forward::{Batches, Forward};
pub use jit::{is_channels_last, to_channels_last};
pub use prepare::prepare;
pub use prepared::PreparedModel;
pub use zoo::Architecture;

/// Runs `draw` right after seeding libtorch's random generator with `seed`, with no
/// other seeded draw of this process in between. libtorch has one default generator
/// per process: two threads that each seed and then draw (two runs in one process,
/// parallel tests) would otherwise interleave and neither get its seed's numbers.
pub fn seeded<T>(seed: u64, draw: impl FnOnce() -> T) -> T {
    let _turn = DRAWS.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed as i64);
    draw()
}

/// Runs `draw`, whose values do not matter (a network built only to be overwritten),
/// while no seeded draw runs: it would otherwise take numbers from between another
/// thread's seeding and its draw.
pub fn unseeded<T>(draw: impl FnOnce() -> T) -> T {
    let _turn = DRAWS.lock().unwrap_or_else(|e| e.into_inner());
    draw()
}

/// Held by every draw from libtorch's default generator made here.
static DRAWS: std::sync::Mutex<()> = std::sync::Mutex::new(());
