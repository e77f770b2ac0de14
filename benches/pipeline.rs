//! The criterion suite: the pipeline over a suite's grid, one group per
//! configuration, three measurements. The suite is `INFERBENCH_SUITE=file.toml` (a
//! sweep file) or `INFERBENCH_PROFILE=default|full|ci` (benches/suites/*.toml);
//! `INFERBENCH_PERCENTILE` picks the tail-latency statistic.

fn main() -> std::process::ExitCode {
    inferbench::measure::main_from_env()
}
