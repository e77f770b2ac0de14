//! The criterion suite: the pipeline over a profile's grid (INFERBENCH_PROFILE =
//! default | full | ci), one group per configuration, three measurements.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, Criterion};
use inferbench::measure::{bench_grid, criterion_config, Profile, TailLatency, Utilization};

fn time(c: &mut Criterion) {
    bench_grid(c, &WallTime, &Profile::from_env());
}

fn tail_latency(c: &mut Criterion<TailLatency>) {
    bench_grid(c, &TailLatency::from_env(), &Profile::from_env());
}

fn utilization(c: &mut Criterion<Utilization>) {
    bench_grid(c, &Utilization::detect(), &Profile::from_env());
}

criterion_group! {
    name = time_group;
    config = criterion_config(Criterion::default());
    targets = time
}
criterion_group! {
    name = latency_group;
    config = criterion_config(Criterion::default().with_measurement(TailLatency::from_env()));
    targets = tail_latency
}
criterion_group! {
    name = utilization_group;
    config = criterion_config(Criterion::default().with_measurement(Utilization::detect()));
    targets = utilization
}
criterion_main!(time_group, latency_group, utilization_group);
