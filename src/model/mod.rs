//! Models the server can run: which architectures exist ([`zoo`]), how weights are
//! written and read ([`checkpoint`]), how the forward is prepared ([`prepare`]),
//! and the synthetic fixed-time model used to calibrate the harness ([`spin`]).

pub mod checkpoint;
pub mod flops;
mod prepare;
pub mod spin;
pub mod zoo;

pub use prepare::{prepare, Forward, PreparedModel};
pub use zoo::Architecture;
