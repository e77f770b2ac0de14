//! Models the server can run: which architectures exist ([`zoo`]), how weights are
//! written and read ([`checkpoint`]), how the forward is prepared ([`prepare`]),
//! the synthetic fixed-time model used to calibrate the harness ([`spin`]), and a
//! wrapper that injects a fault into any of them ([`fault`]).

pub mod checkpoint;
pub mod fault;
pub mod flops;
mod prepare;
pub mod spin;
pub mod zoo;

pub use prepare::{prepare, Forward, PreparedModel};
pub use zoo::Architecture;
