//! Criterion glue: the pipeline as criterion benchmarks, one group per
//! configuration, with three measurements so that criterion's baselines, change
//! detection and HTML reports work for each:
//!
//! - wall time per request (criterion's `WallTime`; with `Throughput::Elements` it
//!   also prints samples/s),
//! - [`TailLatency`]: a latency percentile (p99 by default),
//! - [`Utilization`]: GPU busy % through NVML where a GPU is visible, else process CPU %.
//!
//! Each criterion sample is a real pipeline window of a profile's
//! `requests_per_sample` requests on a server started once per group. Criterion
//! divides every sample by its `iters`, so each measurement returns its figure
//! multiplied by `iters`: a percentile is a statistic of the window, not a sum.

mod grid;
mod units;

pub use grid::{bench_grid, criterion_config, PipelineMeasurement, Profile};
pub use units::{TailLatency, Utilization, UtilizationSource};
