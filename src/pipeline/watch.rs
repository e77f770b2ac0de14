//! Deadlines for the load generator's waits: every wait for a response ends by the
//! run's time limit and, once the warm-up has shown how long a response takes, by a
//! stall timeout counted from the last response (or, for an open-loop schedule, from
//! the intended send time of the request the response needs). A wait that runs out,
//! or a Ctrl-C, cuts the window short: [`Cut`] says why, naming the stages that held
//! their batch when it happened.

use std::time::{Duration, Instant};

use crate::config::limits::human;
use crate::error::Error;

/// Why a measured window ended before its last response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// Ctrl-C (or [`crate::pipeline::interrupt::request`]).
    Interrupted(String),
    /// No response within the stall timeout.
    Stalled(String),
    /// The run's wall-clock limit was reached.
    TimeLimit(String),
    /// A server measured over the network failed a request or went away.
    Failed(String),
}

impl Cut {
    /// Whether the user asked for the stop.
    pub fn is_interrupt(&self) -> bool {
        matches!(self, Cut::Interrupted(_))
    }

    /// The cut as an error, for callers that need a whole window.
    pub fn into_error(self) -> Error {
        match self {
            Cut::Interrupted(_) => Error::Interrupted,
            Cut::Stalled(why) | Cut::TimeLimit(why) => Error::Pipeline(why),
            Cut::Failed(why) => Error::Target(why),
        }
    }
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cut::Interrupted(why) | Cut::Stalled(why) | Cut::TimeLimit(why) | Cut::Failed(why) => {
                f.write_str(why)
            }
        }
    }
}

/// The deadlines of one window's waits.
pub struct Watch<'a> {
    /// The run's wall-clock limit.
    pub run_end: Instant,
    /// The stall timeout; `None` before the first response (the cold start waits
    /// for the run's limit only, as it includes the model's first call).
    pub stall: Option<Duration>,
    /// Names the stages holding a batch, for the stall message.
    pub busy_stages: &'a dyn Fn() -> Option<String>,
    last_progress: Instant,
}

impl<'a> Watch<'a> {
    /// Deadlines from now.
    pub fn new(
        run_end: Instant,
        stall: Option<Duration>,
        busy_stages: &'a dyn Fn() -> Option<String>,
    ) -> Self {
        Self {
            run_end,
            stall,
            busy_stages,
            last_progress: Instant::now(),
        }
    }

    /// The deadline of the next response; `not_before` is when the request it
    /// needs is meant to be sent, for an open-loop schedule.
    pub fn deadline(&self, not_before: Option<Instant>) -> Instant {
        match self.stall {
            None => self.run_end,
            Some(stall) => {
                let from = not_before.map_or(self.last_progress, |t| t.max(self.last_progress));
                (from + stall).min(self.run_end)
            }
        }
    }

    /// A response came.
    pub fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Why the wait for response `answered + 1` of `expected` ran out.
    pub fn timed_out(&self, answered: u64, expected: u64) -> Cut {
        if Instant::now() >= self.run_end {
            return Cut::TimeLimit(format!(
                "the run reached its time limit after {answered} of {expected} responses (raise --max-duration)"
            ));
        }
        let stall = self.stall.unwrap_or_default();
        let stages = (self.busy_stages)().map_or_else(
            || "no stage holds a batch (the requests are lost between stages)".to_string(),
            |busy| format!("stopped answering: {busy}"),
        );
        Cut::Stalled(format!(
            "the pipeline stalled: no response for {} after {answered} of {expected}; {stages}",
            human(stall)
        ))
    }

    /// The cut of a Ctrl-C after `answered` of `expected` responses.
    pub fn interrupted(answered: u64, expected: u64) -> Cut {
        Cut::Interrupted(format!(
            "interrupted (Ctrl-C) after {answered} of {expected} responses"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_run_from_the_last_response_or_the_schedule_and_never_past_the_limit() {
        let none = || None;
        let end = Instant::now() + Duration::from_secs(100);
        let cold = Watch::new(end, None, &none);
        assert_eq!(cold.deadline(None), end);
        let warm = Watch::new(end, Some(Duration::from_secs(2)), &none);
        let from_last = warm.deadline(None);
        assert!(from_last <= Instant::now() + Duration::from_secs(2));
        let later = Instant::now() + Duration::from_secs(10);
        assert_eq!(warm.deadline(Some(later)), later + Duration::from_secs(2));
        let far = Instant::now() + Duration::from_secs(1000);
        assert_eq!(warm.deadline(Some(far)), end);
    }

    #[test]
    fn a_stall_names_the_busy_stage_and_the_limit_says_which_flag() {
        let busy = || Some("worker-0 (busy 2.0 s with request 9)".to_string());
        let end = Instant::now() + Duration::from_secs(100);
        let watch = Watch::new(end, Some(Duration::from_secs(2)), &busy);
        let cut = watch.timed_out(4, 10);
        assert!(matches!(cut, Cut::Stalled(_)));
        assert!(
            cut.to_string().contains("worker-0") && cut.to_string().contains("4 of 10"),
            "{cut}"
        );
        let over = Watch::new(Instant::now(), Some(Duration::from_secs(2)), &busy);
        assert!(over.timed_out(4, 10).to_string().contains("--max-duration"));
    }
}
