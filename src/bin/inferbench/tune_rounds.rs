//! `inferbench tune --round-dir DIR`: the search in rounds (the library's
//! `sweep::tune_round_run`): a shard measures its part of the pending round; without a
//! shard, the command says what is pending or prints the finished search.

use std::path::Path;
use std::time::Duration;

use inferbench::sweep::shard::{self, Shard};
use inferbench::sweep::spec::SweepSpec;
use inferbench::sweep::tune_round_run::{
    follow_shard, measure_shard, round_state, RoundState, ShardOutcome, RESULT_FILE,
};
use inferbench::sweep::tune_run::TuneOptions;

/// `shard`: `--shard` and `--shards`; `follow`: `--follow`'s wait for a round.
pub fn run(
    spec: &SweepSpec,
    opts: &TuneOptions,
    dir: &Path,
    (shard_arg, shards): (Option<&str>, Option<u32>),
    follow: Option<Duration>,
) -> anyhow::Result<()> {
    let job_index = std::env::var(shard::JOB_INDEX_VAR).ok();
    match (Shard::resolve(shard_arg, shards, job_index.as_deref())?, follow) {
        (Some(part), None) => report_shard(measure_shard(spec, opts, dir, part)?, part, dir),
        (Some(part), Some(wait)) => {
            report_state(follow_shard(spec, opts, dir, part, wait)?, dir)
        }
        (None, None) => report_state(round_state(spec, opts, dir)?, dir),
        (None, Some(_)) => anyhow::bail!(
            "--follow measures one shard's part of every round: give --shard I/N, or --shards N in an Indexed Job"
        ),
    }
}

fn report_shard(outcome: ShardOutcome, part: Shard, dir: &Path) -> anyhow::Result<()> {
    let d = dir.display();
    match outcome {
        ShardOutcome::Measured {
            number,
            measured,
            part: size,
            file,
        } => eprintln!(
            "[tune] round {number}, shard {part}: measured {measured} of its {size} configuration(s) into {}; \
             when every shard is done: inferbench tune … --round-dir {d}",
            file.display()
        ),
        ShardOutcome::NothingLeft { number, part: 0 } => eprintln!(
            "[tune] round {number}, shard {part}: the round has fewer configurations than shards; this shard has none"
        ),
        ShardOutcome::NothingLeft { number, part: size } => eprintln!(
            "[tune] round {number}, shard {part}: its {size} configuration(s) are measured already"
        ),
        ShardOutcome::Finished => eprintln!(
            "[tune] the search in {d} is over; nothing to measure: inferbench tune … --round-dir {d} prints it"
        ),
    }
    Ok(())
}

fn report_state(state: RoundState, dir: &Path) -> anyhow::Result<()> {
    let d = dir.display();
    match state {
        RoundState::Pending {
            number,
            ids,
            measured,
        } => {
            println!(
                "pending: round {number}, {measured} of {} configuration(s) measured",
                ids.len()
            );
            for id in &ids {
                println!("  {id}");
            }
            eprintln!(
                "[tune] measure it with: inferbench tune … --round-dir {d} --shard I/N for each I (or an Indexed Job with --shards N); then ask again"
            );
            Ok(())
        }
        RoundState::Done(record) => {
            println!("{}", record.text);
            eprintln!(
                "[tune] the search is in {d}/{RESULT_FILE}; every measured point is in {d}; next: inferbench report --input {d}"
            );
            anyhow::ensure!(
                record.best.is_some(),
                "tune: no configuration scored (each failed, did not settle or met no budget); see {d}"
            );
            Ok(())
        }
    }
}
