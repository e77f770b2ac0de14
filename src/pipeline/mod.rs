//! The inference-server pipeline: a load generator sends pre-built inputs through
//! a request queue to the backend ([`backend`]); responses come back on a response
//! queue to the collector ([`collector`]). The load generator is `loadgen` (burst and
//! closed loop) and `scheduled` (Poisson arrivals), a
//! server that stays up between windows is [`Server`], and [`run_with`] wires one run
//! end to end and returns its [`crate::results::RunReport`].
//!
//! Order of a run: load and compile the model (timed), build inputs, start the
//! backend, send the cold-start request alone and await it, send the extra warm-up
//! requests and await them, then the measured requests with the utilisation
//! sampler running. The bare-forward baseline on the same model and inputs is timed
//! half before the backend starts and half after it has stopped.

pub mod arrivals;
#[cfg(feature = "torch")]
pub mod backend;
#[cfg(feature = "torch")]
pub mod bare;
pub mod batcher;
#[cfg(feature = "torch")]
mod batcher_loop;
#[cfg(feature = "torch")]
pub mod calibrate;
pub mod collector;
#[cfg(feature = "torch")]
pub mod inputs;
pub mod intake;
pub mod interrupt;
#[cfg(feature = "torch")]
pub(crate) mod loadgen;
#[cfg(feature = "torch")]
pub mod monitor;
pub mod ordering;
pub mod pinning;
#[cfg(feature = "torch")]
mod run;
#[cfg(feature = "torch")]
pub(crate) mod scheduled;
#[cfg(feature = "torch")]
mod server;
#[cfg(feature = "torch")]
pub mod stages;
pub mod wait;
pub mod watch;
#[cfg(feature = "torch")]
mod workload;

#[cfg(feature = "torch")]
pub use run::{run, run_with, RunOptions, RunOutcome};
#[cfg(feature = "torch")]
pub use server::{input_buffers, Queues, Server, Window, Workload};
pub use watch::Cut;
